"""Roles as data (``roles.yaml``) and the 三员 exclusivity rule."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from lantai.datafiles import load_model
from lantai.errors import Problem, ValidationFailed
from lantai.security.perms import Perm

__all__ = ["Role", "RoleBook", "load_roles"]


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    description: str = ""
    permissions: tuple[Perm, ...]


class ExclusiveGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    roles: tuple[str, ...]
    exclusive_with_others: bool = False


class RolesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    exclusive_groups: dict[str, ExclusiveGroup] = {}
    roles: dict[str, Role]

    @model_validator(mode="after")
    def _refs(self) -> RolesFile:
        for name, group in self.exclusive_groups.items():
            for r in group.roles:
                if r not in self.roles:
                    raise ValueError(f"互斥组 {name} 引用了未定义的角色「{r}」")
        return self


class RoleBook:
    def __init__(self, spec: RolesFile) -> None:
        self.roles = dict(spec.roles)
        self.groups = dict(spec.exclusive_groups)

    def label(self, role: str) -> str:
        r = self.roles.get(role)
        return r.label if r else role

    def permissions(self, roles: Iterable[str]) -> frozenset[Perm]:
        out: set[Perm] = set()
        for name in roles:
            role = self.roles.get(name)
            if role is not None:
                out.update(role.permissions)
        return frozenset(out)

    def check_combination(self, roles: Iterable[str], *, username: str = "") -> None:
        """Raise ValidationFailed if the set of roles breaks an exclusivity rule."""
        held = set(roles)
        problems: list[Problem] = []
        for name in sorted(held):
            if name not in self.roles:
                problems.append(
                    Problem(
                        field="角色", value=name, rule="角色定义", message=f"未定义的角色「{name}」"
                    )
                )
        for group in self.groups.values():
            members = sorted(held & set(group.roles))
            if len(members) > 1:
                labels = "、".join(self.label(m) for m in members)
                problems.append(
                    Problem(
                        field="角色",
                        rule=group.title,
                        message=f"用户 {username} 不能同时担任 {labels}",
                    )
                )
            if group.exclusive_with_others and members:
                others = sorted(held - set(group.roles))
                if others:
                    labels = "、".join(self.label(m) for m in others)
                    problems.append(
                        Problem(
                            field="角色",
                            rule=group.title,
                            message=f"{self.label(members[0])}不得兼任业务角色（{labels}）",
                        )
                    )
        if problems:
            raise ValidationFailed("角色分配违反三员分立规则，未作任何更改", problems)


def load_roles(path: Path | None = None) -> RoleBook:
    src = path or Path(str(resources.files("lantai.security") / "roles.yaml"))
    return RoleBook(load_model(src, RolesFile, title="角色配置文件"))
