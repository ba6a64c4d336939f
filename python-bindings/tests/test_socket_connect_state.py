"""What a BSD-sockets port relies on, as a stranger's comparison with raw calls found it:
a socket fdsafe connected says EISCONN to the next connect (as one connected by a blocking
connect does), a listener has no connect to finish, and a socket of any kind made for IPv4
or IPv6 has a port."""

import errno
import socket as pysocket

import pytest

from fdsafe.socket import socket, tcp_connect, tcp_listen


def test_a_connected_stream_says_eisconn_from_the_first_connect():
    with tcp_listen(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        for stream in (tcp_connect(address, timeout=5), tcp_connect(address)):
            with stream:
                with pytest.raises(OSError) as again:
                    stream.connect(address)
                assert again.value.errno == errno.EISCONN
                listener.accept()[0].close()


def test_a_listener_has_no_connect_to_finish():
    with tcp_listen(("127.0.0.1", 0)) as listener:
        with pytest.raises(OSError) as finish:
            listener.connect_finish(None)  # no limit: it once waited forever
        assert finish.value.errno == errno.ENOTCONN


@pytest.mark.parametrize("family, kind", [(pysocket.AF_INET, pysocket.SOCK_STREAM),
                                          (pysocket.AF_INET6, pysocket.SOCK_DGRAM)])
def test_a_socket_of_any_kind_has_its_port(family, kind):
    with socket(family, kind) as s:
        s.bind(("::1" if family == pysocket.AF_INET6 else "127.0.0.1", 0))
        assert s.local_port() == s.getsockname()[1] != 0
