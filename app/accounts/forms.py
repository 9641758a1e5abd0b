"""Sign-in and sign-up forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("Keep me signed in"))


class SignupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords differ."))],
    )


class ShopSignupForm(SignupForm):
    """Platform sign-up: an operator account and the first shop at once."""

    shop_name = StringField(_l("Shop name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(_l("Shop address"), validators=[DataRequired(), Length(min=3, max=32)])


class NewShopForm(FlaskForm):
    shop_name = StringField(_l("Shop name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(_l("Shop address"), validators=[DataRequired(), Length(min=3, max=32)])


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Key name"), validators=[DataRequired(), Length(max=80)])


class ForgotPasswordForm(FlaskForm):
    """Ask for a reset link (the answer is the same for any address)."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords differ."))],
    )


class RechargeForm(FlaskForm):
    """A buyer's wallet recharge (充值): the amount as typed (``12.50``); the
    clicked button names the provider."""

    amount = StringField(
        _l("Amount"), validators=[DataRequired(_l("Enter how much to add.")), Length(max=20)]
    )
    next = HiddenField()
