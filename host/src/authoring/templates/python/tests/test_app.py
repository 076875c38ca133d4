"""Unit tests of the module's pure parts: `python3 -m unittest discover -s tests`."""

import json
import unittest

from app import GREETINGS, MANIFEST, name
from verofield_sdk import Problem


class AppTests(unittest.TestCase):
    def test_trims_names_and_refuses_blank_ones(self):
        self.assertEqual(name(" Ada "), "Ada")
        for blank in [" ", None, 3]:
            with self.assertRaises(Problem) as refused:
                name(blank)
            self.assertEqual(refused.exception.status, 422)

    def test_the_manifest_names_the_slot_its_route_and_its_collection(self):
        manifest = json.loads(MANIFEST.to_json())
        self.assertEqual(manifest["slot"], "{{name}}")
        self.assertEqual(manifest["routes"][0]["path"], "/hello")
        column = manifest["collections"][GREETINGS]["columns"]["name"]
        self.assertEqual(column, {"type": "text", "required": True})


if __name__ == "__main__":
    unittest.main()
