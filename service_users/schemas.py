"""The users service's bodies: the shared contract (apicore.contract.users)."""

from apicore.contract.users import Role, UserCreate, UserPartial, UserPublic, UserUpdate

__all__ = ["Role", "UserCreate", "UserPartial", "UserPublic", "UserUpdate"]
