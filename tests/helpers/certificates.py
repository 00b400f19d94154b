"""A self-signed certificate for a host name, to import into the emulator's ACM (an imported certificate is ISSUED)."""

from __future__ import annotations

import datetime as dt


def self_signed(host: str) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for `host`, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def imported_certificate(acm, host: str) -> str:
    """The ARN of a self-signed certificate for `host` imported into `acm` (a boto3 ACM client)."""
    certificate, key = self_signed(host)
    return acm.import_certificate(Certificate=certificate, PrivateKey=key)["CertificateArn"]
