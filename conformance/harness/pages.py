"""Reading the target's HTML pages without a browser: forms, buttons and auto-navigation.

Most checks need no clicks: the suite sends the authorization request over plain HTTP and
reads the page that comes back. This module finds the forms on it (a password field means
a login page; an approve-like submit button means a consent page) and any way the page
would send the browser onwards (auto-submitting form, meta refresh, script navigation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from html.parser import HTMLParser

APPROVE_WORDS = re.compile(
    r"\b(approve|allow|authori[sz]e|accept|consent|continue|yes|grant)\b", re.I
)
# the names of the one field an identifier-first login's first step asks (loginfmt:
# Microsoft's sign-in; identifier: the generic name)
IDENTIFIER_FIELDS = re.compile(r"user(name)?|login|e-?mail|identifier|loginfmt|user_?id", re.I)
# "Don't allow" and "Do not allow" refuse, although "allow" is in them
DENY_WORDS = re.compile(r"\b(deny|cancel|reject|decline|abort|no|not|don['\u2019]?t)\b", re.I)
# attributes whose value a browser follows, loads or submits to
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster", "srcset")


@dataclass
class Button:
    """A submit control: its name, value, id and visible text."""

    name: str = ""
    value: str = ""
    id: str = ""
    text: str = ""

    def label(self) -> str:
        """What the user reads on it."""
        return (self.text or self.value).strip()


@dataclass
class Form:
    """One ``<form>`` with its fields and submit controls."""

    action: str = ""
    method: str = "get"
    id: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    password_fields: list[str] = field(default_factory=list)
    text_fields: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def asks_identifier(self) -> bool:
        """Whether the form is an identifier-first login's first step.

        That is a user name or e-mail field alone and no password field, whatever its
        button says ("Continue" too).
        """
        return (
            not self.password_fields
            and len(self.text_fields) == 1
            and IDENTIFIER_FIELDS.fullmatch(self.text_fields[0]) is not None
        )

    def approve_button(self) -> Button | None:
        """The button that approves, by id, name, value or text; None if there is none."""
        for button in self.buttons:
            words = f"{button.id} {button.value} {button.label()}"
            if APPROVE_WORDS.search(words) and not DENY_WORDS.search(button.label()):
                return button
        return None


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.navigations: list[str] = []
        self.text: list[str] = []
        self.scripts = 0
        self.urls: list[tuple[str, str, str]] = []
        self._form: Form | None = None
        self._named: dict[str, Form] = {}  # forms by id, for controls with a form= attribute
        self._button: Button | None = None
        self._script = False
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.urls.extend((tag, name, a[name]) for name in URL_ATTRIBUTES if name in a)
        # a control's form= attribute names its form anywhere in the page, else it is the
        # form it sits in
        owner = self._owner(a["form"]) if "form" in a else self._form
        if tag == "form":
            form = self._owner(a.get("id", "")) or Form()
            if any(f is form for f in self.forms):  # a second form with the same id
                form = Form()
            form.action, form.method = a.get("action", ""), a.get("method", "get").lower()
            form.id = a.get("id", "")
            self._form = form
            self.forms.append(form)
        elif tag == "input" and owner is not None:
            self._input(owner, a)
        elif tag == "button" and owner is not None and a.get("type", "submit") == "submit":
            self._button = Button(a.get("name", ""), a.get("value", ""), a.get("id", ""))
            owner.buttons.append(self._button)
        elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.navigations.append(a.get("content", ""))
        elif tag in ("script", "style"):
            # a data block (<script type="application/json">) holds values, not code: the
            # redirect URI in a page's data is no navigation
            self._script = tag == "script" and _is_code(a.get("type", ""))
            self._style = tag == "style"
            self.scripts += tag == "script"

    def _owner(self, form_id: str) -> Form | None:
        """The form with id ``form_id``, made ready before it appears (None for no id)."""
        return self._named.setdefault(form_id, Form(id=form_id)) if form_id else None

    def _input(self, form: Form, a: dict[str, str]) -> None:
        kind, name = a.get("type", "text").lower(), a.get("name", "")
        if kind in ("submit", "image"):
            form.buttons.append(
                Button(name, a.get("value", ""), a.get("id", ""), a.get("value", ""))
            )
        elif kind == "password":
            form.password_fields.append(name)
        elif name and (kind not in ("checkbox", "radio") or "checked" in a):
            form.fields[name] = a.get("value", "")
            if kind in ("text", "email", "tel"):
                form.text_fields.append(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "button":
            self._button = None
        elif tag in ("script", "style"):
            self._script = self._style = False

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.text += data
        if self._script:
            self.navigations.append(data)
        elif data.strip() and not self._style:
            self.text.append(data.strip())


@dataclass(frozen=True)
class Page:
    """A parsed HTML page."""

    forms: tuple[Form, ...]
    navigations: tuple[str, ...]
    text: str
    scripts: int = 0
    urls: tuple[tuple[str, str, str], ...] = ()  # (tag, attribute, value) of URL attributes

    def login_form(self) -> Form | None:
        """The form with a password field, else an identifier-first login's first step."""
        return next((f for f in self.forms if f.password_fields), None) or next(
            (f for f in self.forms if f.asks_identifier()), None
        )

    def consent_form(self) -> Form | None:
        """The form with an approve button and no password field, if any.

        A form that asks for a user name is a login step, whatever its button says.
        """
        return next(
            (
                f
                for f in self.forms
                if not f.password_fields and not f.asks_identifier() and f.approve_button()
            ),
            None,
        )

    def navigates_to(self, url: str) -> bool:
        """Whether the page would send the browser to ``url`` by itself.

        Covers an auto-submitting (form_post style) form whose action is ``url``, a meta
        refresh, and a script that mentions ``url``.
        """
        base = url.split("?", 1)[0]
        auto_form = any(f.action.startswith(base) for f in self.forms)
        return auto_form or any(base in _unescape_slashes(n) for n in self.navigations)


# the script types a browser runs (HTML's JavaScript MIME type essence matches, and module)
_CODE_TYPES = frozenset(
    {
        "",
        "module",
        "text/javascript",
        "application/javascript",
        "text/ecmascript",
        "application/ecmascript",
        "text/jscript",
        "text/livescript",
        "application/x-javascript",
        "application/x-ecmascript",
        "text/x-javascript",
        "text/x-ecmascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
    }
)


def _is_code(script_type: str) -> bool:
    """Whether a ``<script type=...>`` runs (a data block such as application/json does not)."""
    return script_type.split(";", 1)[0].strip().lower() in _CODE_TYPES


def _unescape_slashes(script: str) -> str:
    r"""``script`` with JSON's and JavaScript's escaped slashes (``\/``, ``\u002F``) as ``/``.

    Server-side JSON encoders commonly escape ``/`` in the URL a page navigates to.
    """
    return re.sub(r"\\(?:/|u002[fF])", "/", script)


def parse(html: str) -> Page:
    """Parse ``html`` leniently (the target's pages are never trusted to be well formed).

    A run gets many pages more than once (an error page, a login page): the last pages
    parsed are kept, and each caller gets forms of its own to change.
    """
    page = _kept(html) if len(html) <= KEPT_PAGE_SIZE else _parsed(html)
    if not page.forms:
        return page
    return replace(page, forms=tuple(_copy(form) for form in page.forms))


def _copy(form: Form) -> Form:
    buttons = [Button(b.name, b.value, b.id, b.text) for b in form.buttons]
    fields, passwords, texts = dict(form.fields), list(form.password_fields), form.text_fields
    return Form(form.action, form.method, form.id, fields, passwords, list(texts), buttons)


def _parsed(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    text = " ".join(parser.text)[:2000]
    return Page(
        tuple(parser.forms), tuple(parser.navigations), text, parser.scripts, tuple(parser.urls)
    )


KEPT_PAGE_SIZE = 65_536  # a larger page (rare, and maybe hostile) is parsed each time
_kept = lru_cache(maxsize=128)(_parsed)
