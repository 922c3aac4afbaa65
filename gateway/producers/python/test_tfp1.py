"""Checks tfp1.py against gateway/vectors.json: `python3 -m pytest` or `python3 test_tfp1.py`."""
import json
import pathlib
import unittest

from tfp1 import Tfp1Error, fingerprint

VECTORS = json.loads((pathlib.Path(__file__).resolve().parent / "../../vectors.json").read_text("utf-8"))


class VectorsTest(unittest.TestCase):
    def test_vectors(self):
        self.assertGreater(len(VECTORS["vectors"]), 0)
        for v in VECTORS["vectors"]:
            with self.subTest(v["name"]):
                self.assertEqual(fingerprint(v["credential"], v["key"]), v["fp"])

    def test_invalid(self):
        for v in VECTORS["invalid"]:
            with self.subTest(v["name"]):
                with self.assertRaises(Tfp1Error) as cm:
                    fingerprint(v["credential"], v["key"])
                self.assertEqual(cm.exception.code, v["error"])

    def test_bytes_key(self):
        v = VECTORS["vectors"][0]
        self.assertEqual(fingerprint(v["credential"], v["key"].encode("utf-8")), v["fp"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
