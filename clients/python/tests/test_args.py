"""Arguments packed by the TypeScript compressArgs middleware, unpacked for the handler."""

import base64
import gzip
import json
import unittest

from hopper_jobs.errors import UnrecoverableJobError
from hopper_jobs.job import GZIP_ARGS_MARKER, unpacked_args

# What the TypeScript compressArgs client part made of ['héllo ✓', {n: 42, list: [1, 2, 3]}, 'x' * 100] (Node's zlib).
FROM_TYPESCRIPT = "H4sIAAAAAAAAA4tWyji8MicnX+HRnMlKOtVKeUpWJkY6SjmZxSVKVtGGOkY6xrG1OkoVdABKsQDOibb9jQAAAA=="


class UnpackedArgsTest(unittest.TestCase):
    def test_unpacks_what_the_typescript_middleware_packed(self) -> None:
        self.assertEqual(unpacked_args([{GZIP_ARGS_MARKER: FROM_TYPESCRIPT}]), ["héllo ✓", {"n": 42, "list": [1, 2, 3]}, "x" * 100])

    def test_leaves_other_arguments_as_they_are(self) -> None:
        for args in ([], ["plain", 1], [{GZIP_ARGS_MARKER: "H4sI", "other": 1}], [{GZIP_ARGS_MARKER: 42}], [{GZIP_ARGS_MARKER: "H4sI"}, 2]):
            self.assertIs(unpacked_args(args), args)

    def test_a_body_that_does_not_decode_is_unrecoverable_and_named(self) -> None:
        not_an_array = base64.b64encode(gzip.compress(json.dumps({"a": 1}).encode())).decode()
        for body in ("not base64!", "AAAA", FROM_TYPESCRIPT[:40], not_an_array):
            with self.assertRaises(UnrecoverableJobError) as raised:
                unpacked_args([{GZIP_ARGS_MARKER: body}])
            self.assertIn("args[0].$hopper_gzip", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
