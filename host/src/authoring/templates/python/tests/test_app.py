"""Unit tests of the module's pure parts: `python3 -m unittest discover -s tests`."""

import json
import unittest

from app import MANIFEST, greeting
from verofield_sdk import Problem


class AppTests(unittest.TestCase):
    def test_greets_by_name_and_refuses_blank_names(self):
        self.assertEqual(greeting(" Ada "), "Hello, Ada!")
        with self.assertRaises(Problem) as refused:
            greeting("")
        self.assertEqual(refused.exception.status, 400)

    def test_the_manifest_names_the_slot_and_its_route(self):
        manifest = json.loads(MANIFEST.to_json())
        self.assertEqual(manifest["slot"], "{{name}}")
        self.assertEqual(manifest["routes"][0]["path"], "/hello")


if __name__ == "__main__":
    unittest.main()
