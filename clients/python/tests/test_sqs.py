import importlib.util
import unittest

from hopper_jobs.sqs import Outgoing, pack_batches, sqs_client_from_env


def message(size: int) -> Outgoing:
    return Outgoing(key=str(size), queue_url="q", body="", size=size)


class PackBatchesTest(unittest.TestCase):
    def test_starts_a_new_batch_at_ten_entries_or_before_1_mib(self) -> None:
        self.assertEqual([len(batch) for batch in pack_batches([message(1)] * 23)], [10, 10, 3])
        half = 524_288
        self.assertEqual([[m.size for m in batch] for batch in pack_batches([message(half), message(half), message(1), message(half)])], [[half, half], [1, half]])


@unittest.skipUnless(importlib.util.find_spec("boto3"), "boto3 is not installed")
class SqsClientFromEnvTest(unittest.TestCase):
    def test_takes_endpoint_region_and_credentials_from_the_given_environment(self) -> None:
        env = {"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
        client = sqs_client_from_env(env)
        self.assertEqual((client.meta.endpoint_url, client.meta.region_name), ("http://127.0.0.1:9", "eu-west-1"))


if __name__ == "__main__":
    unittest.main()
