"""The supplier portal's upload form (Flask-WTF: CSRF on every form): the
codes pasted one a line, or a ``.txt`` file, for one product."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, TextAreaField


class UploadForm(FlaskForm):
    product_id = HiddenField()
    codes = TextAreaField(
        _l("Codes, one a line"),
        description=_l("A code alone, or a number and password like NUMBER----PASSWORD."),
    )
    file = FileField(_l("Or a .txt file"))
