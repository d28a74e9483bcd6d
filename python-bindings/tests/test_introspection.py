"""plan/explain, the topology and link model, the configuration table."""

import numpy as np

import strata


def test_plan_and_explain():
    comms = strata.Communicator.local(4)
    choice = comms[0].plan("all_reduce", 1 << 20, np.float32)
    assert choice["algorithm"] and choice["predicted_seconds"] > 0 and choice["reason"]
    assert comms[0].plan("all_reduce", 1 << 20, "bfloat16")["predicted_seconds"] > 0
    text = comms[0].explain("broadcast", 1000, "float64", root=1)
    assert text.startswith("broadcast of 1000 x float64:")
    for comm in comms:
        comm.destroy()


def test_topology_dict():
    comm = strata.Communicator.local(2)
    topology = comm[0].topology()
    assert topology["site_count"] == 1 and len(topology["ranks"]) == 2
    assert topology["ranks"][1]["node"] == 0
    links = topology["links"]
    assert set(links) == {"intra_node", "intra_site", "between_sites"}
    assert links["intra_node"]["rtt_s"] > 0 and "bandwidth_measured" in links["intra_site"]
    for c in comm:
        c.destroy()


def test_config_table_lists_every_variable(monkeypatch):
    names = {entry["name"] for entry in strata.config()}
    assert {"STRATA_TIMEOUT", "STRATA_ALGO", "STRATA_DEBUG"} <= names
    monkeypatch.setenv("STRATA_CHUNK", "1M")
    strata.reload_config()
    values = {entry["name"]: entry["value"] for entry in strata.config()}
    assert values["STRATA_CHUNK"] == "1M"
    monkeypatch.delenv("STRATA_CHUNK")
    strata.reload_config()


def test_unique_id_is_picklable_bytes():
    import pickle
    unique_id = strata.get_unique_id()
    assert isinstance(unique_id, bytes) and len(unique_id) == 128
    assert pickle.loads(pickle.dumps(unique_id)) == unique_id
