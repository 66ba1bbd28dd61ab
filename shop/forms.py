"""Forms shared by several areas."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A bare form for buttons that post: it carries the CSRF token only."""
