"""档案证明 and 档案复制件证明: signed PDF certificates with a public verification page and API.

The service API (docs/certificates.md): :func:`issue_certificate`, :func:`revoke_certificate`,
:func:`verify_code`, :func:`verify_file`, :func:`mask_id_number`; keys: :func:`signing_key`,
:func:`rotate_key`, :func:`key_ring`, :func:`export_keys`, :func:`import_trusted`; verifying a
file with only a trusted key set (no database, e.g. another archive's certificate):
:func:`verify_pdf` with a :class:`KeyRing`.
"""

from lantai.certificates.keys import (
    export_keys,
    import_trusted,
    key_ring,
    list_keys,
    rotate_key,
    signing_key,
)
from lantai.certificates.service import (
    IssuedCertificate,
    VerificationResult,
    get_certificate,
    issue_certificate,
    list_certificates,
    mask_id_number,
    revoke_certificate,
    verify_code,
    verify_file,
    verify_url,
)
from lantai.certificates.verify import FileCheck, KeyRing, TrustedKey, Verdict, verify_pdf

__all__ = [
    "FileCheck",
    "IssuedCertificate",
    "KeyRing",
    "TrustedKey",
    "Verdict",
    "VerificationResult",
    "export_keys",
    "get_certificate",
    "import_trusted",
    "issue_certificate",
    "key_ring",
    "list_certificates",
    "list_keys",
    "mask_id_number",
    "revoke_certificate",
    "rotate_key",
    "signing_key",
    "verify_code",
    "verify_file",
    "verify_pdf",
    "verify_url",
]
