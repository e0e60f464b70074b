"""The browser: one Chromium per run through Playwright, logins and login hooks."""
