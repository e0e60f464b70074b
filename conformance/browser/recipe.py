"""The login recipe: how the browser gets through a target's login and consent pages.

It is plain data (no browser here): the target file's ``[login]`` table gives its keys
(:meth:`LoginRecipe.option_keys`), and :mod:`conformance.browser.driver` follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class LoginRecipe:
    """How to get through the target's login and consent pages.

    The defaults recognise common forms: a user name or e-mail field, a password field, the
    form's submit button, and an approve-like button on the consent page. ``hook`` names a
    Python function (``file.py:function``, see :mod:`conformance.browser.login_hook`) that
    replaces the fill-and-submit steps for unusual login pages.
    """

    username: str
    password: str
    username_selector: str = (
        "input[name=username], input[name=login], input[name=email], input[type=email], "
        "input#username"
    )
    password_selector: str = "input[type=password]"  # noqa: S105 - a CSS selector
    submit_selector: str = "form:has(input[type=password]) [type=submit]"
    hook: str = ""
    approve_selector: str = (
        "button#approve, "
        'button:text-matches("^\\\\s*(approve|allow|authori[sz]e|accept|continue|yes)\\\\b", "i"), '
        'input[type=submit]:is([value="Approve" i], [value="Allow" i], [value="Continue" i]), '
        # consent without a form button: an approve link, or a scripted role=button control
        'a[href]:text-matches("^\\\\s*(approve|allow|authori[sz]e|accept|yes)\\\\b", "i"), '
        '[role=button]:text-matches("^\\\\s*(approve|allow|authori[sz]e|accept|yes)\\\\b", "i")'
    )

    @classmethod
    def from_options(cls, username: str, password: str, options: dict[str, str]) -> LoginRecipe:
        """A recipe from target-file keys: ``*_selector``, ``hook`` and button texts.

        ``submit_text`` and ``approve_text`` are matched as a button's accessible name.
        """
        chosen = dict(options)
        for step in ("submit", "approve"):
            text = chosen.pop(f"{step}_text", None)
            if text is not None:
                quoted = text.replace("\\", "\\\\").replace('"', '\\"')
                chosen[f"{step}_selector"] = f'role=button[name="{quoted}"]'
        return cls(username, password, **chosen)

    @classmethod
    def option_keys(cls) -> tuple[str, ...]:
        """The keys a target file's ``[login]`` table may give: selectors, texts and hook."""
        names = [f.name for f in fields(cls) if f.name not in ("username", "password")]
        return (*names, *(f"{step}_text" for step in ("submit", "approve")))
