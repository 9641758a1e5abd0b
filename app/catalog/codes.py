"""A card's secret (卡密): how a number and a password make one stored text
and come apart again. The one owner of that rule; everything that encrypts,
fingerprints, shows or exports a card's code calls these.

- A secret is ``number`` (a code alone) or ``number\\tpassword``: encrypted
  together as one text, fingerprinted as that text (so a card written
  ``A,B`` in one file and ``A----B`` in another is one card).
- It is split on the first tab. Neither part may hold a tab (a file line
  whose field holds one is invalid, see ``cardfile``), so the split gives
  back exactly what was joined.
- Shown to people and exported as ``number`` or ``number----password``, the
  form an import reads back as the same card.
"""

from __future__ import annotations

#: between number and password in the stored (encrypted) secret
SECRET_SEPARATOR = "\t"
#: between number and password where a person reads the code, and in exports
SHOWN_SEPARATOR = "----"


def join_card_secret(number: str, password: str | None = None) -> str:
    """The secret stored for a card: ``number``, or ``number\\tpassword``
    when there is a password. Pure; callers have checked neither part holds
    a tab."""
    return number + SECRET_SEPARATOR + password if password else number


def split_card_secret(secret: str) -> tuple[str, str | None]:
    """``(number, password)`` of a stored secret; ``password`` is ``None``
    for a code alone. Pure; the inverse of ``join_card_secret``."""
    number, _, password = secret.partition(SECRET_SEPARATOR)
    return number, password or None


def shown_code(secret: str) -> str:
    """The code as a person reads it and an export writes it: ``number`` or
    ``number----password`` (an import reads that line back as this card)."""
    number, password = split_card_secret(secret)
    return number + SHOWN_SEPARATOR + password if password else number
