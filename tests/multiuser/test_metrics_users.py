"""`/metrics` with several users: kernels are counted by user, and only an administrator may
read the metrics, which span every user."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Member


def test_only_an_administrator_reads_the_metrics_and_kernels_are_counted_by_user(alice: Member,
                                                                                 root: Member) -> None:
    kernel_id = alice.start_kernel()
    refused = alice.get(alice.site.url + "metrics")
    assert refused.status_code == 403
    assert refused.json() == {"message": "Only an administrator may read the server's metrics",
                              "reason": "not an administrator"}
    response = root.get(root.site.url + "metrics")
    assert response.status_code == 200, response.text
    by_user = {sample.labels["user"]: sample.value for family in text_string_to_metric_families(response.text)
               for sample in family.samples if sample.name == "flask_notebook_kernels"
               and sample.labels["state"] in ("starting", "idle", "busy") and sample.value}
    assert by_user == {"alice": 1}
    assert kernel_id not in response.text
