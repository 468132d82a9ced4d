"""Users, roles (三员), permissions, passwords, sessions and clearances."""

from lantai.security.actor import Actor
from lantai.security.perms import Perm
from lantai.security.roles import RoleBook, load_roles
from lantai.security.sessions import SessionStore
from lantai.security.users import UserService

__all__ = ["Actor", "Perm", "RoleBook", "SessionStore", "UserService", "load_roles"]
