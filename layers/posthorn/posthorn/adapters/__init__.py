"""Adapters: the only code that speaks boto3 or SMTP."""


def reset_adapters() -> None:
    """Forget cached clients, secrets and settings (the environment changed: tests, the local stack)."""
    from posthorn.adapters.aws import reset_clients
    from posthorn.adapters.secrets import secret_string
    from posthorn.settings import forget

    reset_clients()
    secret_string.cache_clear()
    forget()
