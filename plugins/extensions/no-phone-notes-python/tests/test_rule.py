"""The rule of the sample extension, outside any component."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import app  # noqa: E402
import rule  # noqa: E402


class PhoneNumbers(unittest.TestCase):
    def test_finds_numbers_as_people_write_them(self):
        for notes in ["call (512) 555-0199 first", "+1 512.555.0199", "5125550199", "555-0199"]:
            self.assertTrue(rule.phone_numbers(notes), notes)

    def test_passes_short_digit_runs(self):
        for notes in ["gate code 1234", "3 dogs, 2 cats", "visit 10 - 12", "", "pest: ants"]:
            self.assertEqual(rule.phone_numbers(notes), [], notes)

    def test_refuses_notes_with_a_number_and_only_those(self):
        refused = rule.validate({"notes": "ring 512 555 0199 at the gate"})
        self.assertEqual(refused["errors"][0]["field"], "notes")
        self.assertEqual(rule.validate({"notes": "side gate"}), {"errors": []})
        self.assertEqual(rule.validate({"notes": None}), {"errors": []})
        self.assertEqual(rule.validate({}), {"errors": []})


class Manifest(unittest.TestCase):
    def test_names_the_point_and_asks_a_budget(self):
        self.assertEqual(app.MANIFEST["points"], ["jobs.validate"])
        self.assertGreater(app.MANIFEST["budget"]["memory_mib"], 16)


if __name__ == "__main__":
    unittest.main()
