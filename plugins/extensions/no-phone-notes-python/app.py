"""Sample extension in Python for `jobs.validate` (docs/EXTENSIONS.md): "a job's notes must not
carry a phone number" (the rule is in `rule.py`). A component of the world
`verofield:platform/extension`, built with componentize-py
(`scripts/build-python-module.sh plugins/extensions/no-phone-notes-python OUT extension`).

Its budget: CPython's pre-initialised image is 12.4 MiB of memory the moment it is
instantiated, which leaves 3.6 MiB of the default 16 MiB; a run costs 0.2 M fuel on short notes
and 10 M on 9 KB of digit-heavy notes (docs/EXTENSIONS.md). So the manifest asks 32 MiB and
200 M fuel (`budget`), which the operator grants at upload
(`POST /v1/operator/extensions?fuel=200000000&memory_mib=32`); without the grant it runs on
the default budget and fails open on notes that need more.
"""

import json

import rule

POINT = "jobs.validate"

MANIFEST = {
    "name": "no-phone-notes",
    "version": "1.0.0",
    "points": [POINT],
    "budget": {"fuel": 200_000_000, "memory_mib": 32},
}

try:
    from wit_world.exports import Hook as Interface
except ImportError:
    # Outside a component (unit tests import the app): nothing to implement.
    Interface = object


class Hook(Interface):
    def manifest(self):
        return json.dumps(MANIFEST)

    def run(self, point, input):
        from componentize_py_types import Err

        if point != POINT:
            raise Err(f"this extension does not serve `{point}`")
        try:
            job = json.loads(input)["job"]
        except (ValueError, KeyError, TypeError) as error:
            raise Err(f"not a {POINT} input: {error}") from None
        return json.dumps(rule.validate(job))
