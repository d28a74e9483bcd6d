"""Shared helpers: run one function per rank of an in-process communicator
(threads; the GIL is released inside every operation, so ranks overlap)."""

import threading

import pytest

import strata


def run_ranks(nranks, body, *, timeout=60.0):
    """Calls body(comm) on each rank of a local communicator; returns the
    results in rank order and re-raises the first rank's exception."""
    comms = strata.Communicator.local(nranks)
    results = [None] * nranks
    errors = [None] * nranks

    def work(comm):
        try:
            results[comm.rank] = body(comm)
        except BaseException as error:  # noqa: BLE001 (re-raised below)
            errors[comm.rank] = error
            comm.abort()  # the others must not wait for this rank

    threads = [threading.Thread(target=work, args=(comm,)) for comm in comms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a rank did not finish"
    for comm in comms:
        comm.destroy()
    for error in errors:
        if error is not None:
            raise error
    return results


@pytest.fixture
def ranks():
    return run_ranks
