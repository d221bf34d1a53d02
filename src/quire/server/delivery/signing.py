"""Standard Webhooks signing (https://www.standardwebhooks.com/).

    webhook-signature: v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>

Secrets are `whsec_` + base64 of 32 random bytes; the key is the decoded part. During a secret
rotation's grace period both secrets sign, and the header carries both signatures, space-separated.

The implementation lives in `quire.standard_webhooks` (standard library only), which the SDK's
receiver helper verifies with too; this module keeps the server's import path.
"""

from __future__ import annotations

from quire.standard_webhooks import (
    SECRET_PREFIX,
    generate_secret,
    headers,
    secret_key,
    sign,
    signature_header,
)

__all__ = ["SECRET_PREFIX", "generate_secret", "headers", "secret_key", "sign", "signature_header"]
