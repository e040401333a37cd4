"""Accounts of the officials' app: users, argon2 password hashes and login throttling.

Failed logins are counted per account and per client address in the database, so a lockout
survives restarts and holds across web-app replicas. Unknown e-mail addresses are counted and
timed like known ones, so a login attempt does not tell whether an account exists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import LoginThrottle, User, utcnow

logger = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("official", "trainer", "admin")
"""Roles: officials handle their unit's cases, trainers improve the bot, admins do everything."""

ROLE_NAMES_SV = {"official": "handläggare", "trainer": "tränare", "admin": "administratör"}

MIN_PASSWORD_LENGTH = 12


@dataclasses.dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins lock an account or a client address, and for how long.

    Attributes:
        account_failures: Failures per account within ``window`` before a lockout.
        address_failures: Failures per client address within ``window`` before a lockout.
        window: Period the failures are counted in.
        lockout: How long a lockout lasts.
    """

    account_failures: int = 5
    address_failures: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class UserRecord:
    """A stored account (never the password hash)."""

    id: int
    email: str
    name: str
    role: str
    unit: str | None
    active: bool
    session_version: int = 0

    @property
    def first_name(self) -> str:
        """str: The first name, as told to companies."""
        return first_name(self.name)


def first_name(name: str) -> str:
    """Return the first word of a full name (the whole name if it has one word).

    Args:
        name: A full name such as ``"Anna Andersson"``.

    Returns:
        For example ``"Anna"``.
    """
    words = name.split()
    return words[0] if words else name


@dataclasses.dataclass(frozen=True)
class LoginResult:
    """Outcome of a login attempt.

    Attributes:
        user: The user when the e-mail and password were right and nothing was locked.
        locked_until: When a lockout ends, if the account or address is locked.
    """

    user: UserRecord | None
    locked_until: dt.datetime | None = None


class AccountError(ValueError):
    """Invalid account data; the message is Swedish, for admins."""


def normalise_email(email: str) -> str:
    """Return an e-mail address trimmed and in lower case."""
    return email.strip().lower()


def _record(user: User) -> UserRecord:
    return UserRecord(
        **{field.name: getattr(user, field.name) for field in dataclasses.fields(UserRecord)}
    )


class UserRepository:
    """Reads and writes accounts; each call owns one short transaction."""

    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        policy: ThrottlePolicy | None = None,
    ) -> None:
        """Create a repository.

        Args:
            engine: A SQLAlchemy engine created with ``future=True``.
            hasher: Argon2 hasher (defaults are the library's recommended parameters).
            policy: Login throttling.
        """
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        self._hasher = hasher or PasswordHasher()
        self._policy = policy or ThrottlePolicy()
        self._dummy_hash = self._hasher.hash("not a real password, for constant timing")

    def create(
        self, email: str, name: str, role: str, password: str, unit: str | None = None
    ) -> UserRecord:
        """Create an account.

        Args:
            email: Login e-mail (unique, case-insensitive).
            name: Full name.
            role: One of :data:`ROLES`.
            password: Password of at least :data:`MIN_PASSWORD_LENGTH` characters.
            unit: Unit id; required for officials.

        Returns:
            The new account.

        Raises:
            AccountError: If the data is invalid or the e-mail is taken.
        """
        email = normalise_email(email)
        if "@" not in email:
            raise AccountError("Ange en giltig e-postadress.")
        if role not in ROLES:
            raise AccountError(f"Okänd roll {role!r}.")
        if role == "official" and not unit:
            raise AccountError("En handläggare måste höra till en enhet.")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")
        try:
            with self._sessions.begin() as session:
                user = User(
                    email=email,
                    name=name.strip() or email,
                    role=role,
                    unit=unit or None,
                    password_hash=self._hasher.hash(password),
                    active=True,
                    created_at=utcnow(),
                )
                session.add(user)
                session.flush()
                return _record(user)
        except IntegrityError as error:
            raise AccountError("Det finns redan ett konto med den e-postadressen.") from error

    def get(self, user_id: int) -> UserRecord | None:
        """Read an account by id.

        Args:
            user_id: Database id.

        Returns:
            The account, or None.
        """
        with self._sessions() as session:
            user = session.get(User, user_id)
            return _record(user) if user is not None else None

    def set_active(self, user_id: int, active: bool) -> UserRecord | None:
        """Activate or deactivate an account; a deactivated account cannot log in.

        Args:
            user_id: Database id.
            active: The new state.

        Returns:
            The account, or None if there is none with that id.
        """
        with self._sessions.begin() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            user.active = active
            user.session_version = (user.session_version or 0) + 1
            return _record(user)

    def revoke_sessions(self, user_id: int) -> None:
        """End every session of a user (all devices): cookies carry the old version.

        Args:
            user_id: Database id.
        """
        with self._sessions.begin() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.session_version = (user.session_version or 0) + 1

    def all(self) -> list[UserRecord]:
        """List every account, by name.

        Returns:
            The accounts.
        """
        with self._sessions() as session:
            return [_record(u) for u in session.execute(select(User).order_by(User.name)).scalars()]

    def assignable(self, unit: str) -> list[UserRecord]:
        """List who can take a case of a unit: its active officials, then active admins.

        Args:
            unit: Unit id of the case.

        Returns:
            The accounts, officials first.
        """
        return [
            user
            for user in sorted(self.all(), key=lambda u: (u.role != "official", u.name))
            if user.active
            and (user.role == "admin" or (user.role == "official" and user.unit == unit))
        ]

    def authenticate(
        self, email: str, password: str, address: str, now: dt.datetime | None = None
    ) -> LoginResult:
        """Check a login, counting failures per account and per client address.

        A locked account or address is refused even with the right password.

        Args:
            email: E-mail as typed.
            password: Password as typed.
            address: Client IP address.
            now: The current time.

        Returns:
            The user, or why not.
        """
        now = now or utcnow()
        keys = (f"account:{normalise_email(email)}", f"address:{address}")
        with self._sessions.begin() as session:
            locked = self._locked_until(session, keys, now)
            if locked is not None:
                return LoginResult(user=None, locked_until=locked)
            user = session.execute(
                select(User).where(User.email == normalise_email(email))
            ).scalar_one_or_none()
            if user is not None and user.active and self._verify(user, password):
                throttle = session.get(LoginThrottle, keys[0])
                if throttle is not None:
                    session.delete(throttle)
                return LoginResult(user=_record(user))
            if user is None:
                self._verify_dummy(password)
            limits = (self._policy.account_failures, self._policy.address_failures)
            locked = None
            for key, limit in zip(keys, limits, strict=True):
                locked = self._count_failure(session, key, limit, now) or locked
            logger.info("Failed login (%s)", "locked" if locked else "counted")
            return LoginResult(user=None, locked_until=locked)

    def _verify(self, user: User, password: str) -> bool:
        try:
            self._hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if self._hasher.check_needs_rehash(user.password_hash):
            user.password_hash = self._hasher.hash(password)
        return True

    def _verify_dummy(self, password: str) -> None:
        try:
            self._hasher.verify(self._dummy_hash, password)
        except VerificationError:
            pass

    @staticmethod
    def _locked_until(
        session: Session, keys: tuple[str, ...], now: dt.datetime
    ) -> dt.datetime | None:
        ends = [
            throttle.locked_until
            for throttle in session.execute(
                select(LoginThrottle).where(LoginThrottle.key.in_(keys))
            ).scalars()
            if throttle.locked_until is not None and throttle.locked_until > now
        ]
        return max(ends) if ends else None

    def _count_failure(
        self, session: Session, key: str, limit: int, now: dt.datetime
    ) -> dt.datetime | None:
        throttle = session.get(LoginThrottle, key)
        if throttle is None or throttle.first_failure_at + self._policy.window < now:
            if throttle is not None:
                session.delete(throttle)
                session.flush()
            throttle = LoginThrottle(key=key, failures=0, first_failure_at=now)
            session.add(throttle)
        throttle.failures += 1
        if throttle.failures >= limit:
            throttle.locked_until = now + self._policy.lockout
            throttle.failures = 0
            throttle.first_failure_at = now
            return throttle.locked_until  # type: ignore[no-any-return]
        return None
