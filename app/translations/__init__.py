"""Message catalogs (gettext) for Flask-Babel.

``zh_Hans_CN`` holds the ``zh_CN`` locale (Babel's full name for it) and
``en`` the English one, each as ``<locale>/LC_MESSAGES/messages.po``
compiled to ``.mo``; README.md beside this file has the commands that
refresh them.
"""
