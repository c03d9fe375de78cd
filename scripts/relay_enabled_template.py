"""Write template.yaml as a stack with the SMTP relay enabled would see it (EnableSmtpRelay and the relay's
required parameters defaulted to example values), so that `make validate` lints the relay's resources too:
`cfn-lint` and `sam validate --lint` must stay green with the relay enabled and disabled."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "EnableSmtpRelay": '"true"',
    "SmtpHostName": "smtp.example.com",
    "SmtpVpcId": "vpc-0123456789abcdef0",
    "SmtpSubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "SmtpTlsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:posthorn/smtp-tls-AbCdEf",
}


def relay_enabled(template: str) -> str:
    for name, value in EXAMPLES.items():
        pattern = re.compile(rf"^(  {name}:\n(?:    .*\n)*?    Default: ).*$", re.MULTILINE)
        template, count = pattern.subn(lambda found, value=value: found.group(1) + value, template, count=1)
        if count != 1:
            raise SystemExit(f"template.yaml has no parameter {name} with a Default")
    return template


if __name__ == "__main__":
    output = Path(sys.argv[1])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(relay_enabled((ROOT / "template.yaml").read_text()))
