"""b2ckeys: declarative management of Azure AD B2C policy keys."""

__version__ = "0.1.0"
