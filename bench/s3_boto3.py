"""The baseline for `cargo bench -p gradient-store --bench transfer`: boto3 moving the same
objects to and from the same S3 server, with its managed transfers (multipart, 10 threads).

usage: s3_boto3.py ENDPOINT BUCKET KEY SECRET SIZE_MB ROUNDS  -> JSON {"put": [MB/s...], "get": [...]}
"""
import io
import json
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig

endpoint, bucket, key_id, secret, size_mb, rounds = sys.argv[1:7]
size = int(size_mb) << 20
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=key_id,
    aws_secret_access_key=secret,
    region_name="us-east-1",
)
config = TransferConfig()
data = bytes(range(256)) * (size // 256)
out = {"put": [], "get": []}
for r in range(int(rounds)):
    name = f"bench/boto3-{size_mb}-{r}"
    start = time.perf_counter()
    s3.upload_fileobj(io.BytesIO(data), bucket, name, Config=config)
    out["put"].append(size / (time.perf_counter() - start) / 1e6)
    sink = io.BytesIO()
    start = time.perf_counter()
    s3.download_fileobj(bucket, name, sink, Config=config)
    out["get"].append(size / (time.perf_counter() - start) / 1e6)
    assert sink.getbuffer().nbytes == size
    s3.delete_object(Bucket=bucket, Key=name)
print(json.dumps(out))
