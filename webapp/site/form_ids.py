"""Ids of their own for the fields of a form that shares a page with other forms.

WTForms gives a field the id of its name, so two forms on one page (the settings page's
password and address forms both ask for current_password, and every form has a csrf_token)
repeat ids, and a label's for= then focuses the other form's field. own_ids() prefixes the
ids and keeps the names, so what the form posts and how it is read stay the same.
"""

from __future__ import annotations

from wtforms import Form


def own_ids(form: Form, prefix: str) -> Form:
    """`form` with every field's id (and its label's for=) starting with `prefix`-."""
    for field in form:
        field.id = f"{prefix}-{field.name}"
        field.label.field_id = field.id
    return form
