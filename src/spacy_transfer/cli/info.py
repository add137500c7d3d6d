"""``spacy-transfer info``: versions, device and registered names."""

from __future__ import annotations

import typer
from wasabi import msg

from ._app import app
from ._util import VerboseOpt, handle_errors

EPILOG = """Examples:

  spacy-transfer info

  spacy-transfer info --json > info.json
"""


@app.command("info", epilog=EPILOG)
def info_cli(
    as_json: bool = typer.Option(False, "--json", help="Print the information as JSON."),
    verbose: bool = VerboseOpt,
) -> None:
    """Print versions, the device, the CPU's features (what bf16 and int8 do on it), and the
    registered embedding names by registry."""
    from .. import compat
    from ..core import allocator, cpu
    from ..core.info import device_rows, registered_names, versions

    with handle_errors(verbose):
        compat.register_names()
        data = {
            "versions": dict(versions()),
            "device": dict(device_rows()),
            "cpu": cpu.features().as_dict(),
            "allocator": allocator.as_dict(),
            "spacy_transformers": {"serving": compat.serving(), "real_version": compat.real_version()},
            "registries": registered_names(),
        }
        if as_json:
            import srsly

            print(srsly.json_dumps(data, indent=2))
            return
        msg.divider("Versions")
        msg.table(list(data["versions"].items()))
        msg.divider("Device")
        msg.table(list(data["device"].items()))
        msg.divider("spacy-transformers' names")
        msg.text(compat.describe())
        msg.divider("CPU")
        msg.table([*cpu.rows(), ("memory allocator", allocator.describe())])
        for reg_name, names in data["registries"].items():
            msg.divider(f"@{reg_name} ({len(names)})")
            for name in names:
                print(f"  {name}")
