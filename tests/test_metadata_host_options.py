"""The bad-TLS listeners' ports and public URLs reach the metadata host from the options."""

from __future__ import annotations

import pytest

from conformance.plugin.options import options_config as run_config
from mock_servers.metadata_host import BAD_TLS_FIELDS

pytest_plugins = ["pytester"]


def test_options_become_the_run_configuration(pytester: pytest.Pytester) -> None:
    args = ["--cimd-metadata-public-url", "https://m.test"]
    for number, kind in enumerate(BAD_TLS_FIELDS):
        option = kind.replace("_", "-")
        args += [f"--cimd-metadata-{option}-port", str(8445 + number)]
        args += [f"--cimd-metadata-{option}-public-url", f"https://{option}.m.test"]
    config = run_config(pytester.parseconfig(*args))
    assert dict(config.metadata_bad_tls_ports) == {
        "expired_port": 8445,
        "wrong_name_port": 8446,
        "self_signed_port": 8447,
    }
    assert config.public is not None
    assert config.public.bad_tls("wrong-name") == "https://wrong-name.m.test"
    assert config.public.self_signed == "https://self-signed.m.test"
    assert config.public.untrusted is None
