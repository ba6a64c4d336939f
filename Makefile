# fdsafe: `make` builds the library and header; `make test` runs every test.
SHELL   := /bin/bash
CARGO   ?= cargo
CC      ?= gcc
PYTHON  ?= python3
PREFIX  ?= /usr/local
DESTDIR ?=

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(word 1,$(subst ., ,$(VERSION)))
RELEASE := target/release
LIB_SO  := $(RELEASE)/libfdsafe.so
LIB_A   := $(RELEASE)/libfdsafe.a
OUT     := build

# Static linking of a Rust staticlib needs the C runtime pieces std uses.
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
CFLAGS_STRICT := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -Ic-tests
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

C_TESTS := $(patsubst c-tests/%.c,%,$(wildcard c-tests/test_*.c))
C_HARNESS := c-tests/harness.c

.PHONY: all lib demo test deps check-header rust-test c-test python-test header-test symbols-test valgrind tsan fuzz coverage-test reliability install-test python-asan \
        example-test bench install uninstall clean miri loom

all: lib

lib:
	$(CARGO) build --release
	@ln -sf libfdsafe.so $(RELEASE)/libfdsafe.so.$(MAJOR)
	@echo "built $(LIB_SO), $(LIB_A) and include/fdsafe.h"

test: deps lib check-header rust-test loom header-test symbols-test coverage-test c-test example-test python-test \
      install-test reliability
	@echo "make test: all suites passed"

# Every exported function has a bad-input case in c-tests/.
coverage-test:
	@$(PYTHON) scripts/check_bad_input_coverage.py

# One table: bad-input coverage, fuzzing, the close race, valgrind, descriptor leaks.
reliability: coverage-test c-test valgrind fuzz python-asan tsan miri
	@$(PYTHON) scripts/reliability_report.py $(OUT)

deps:
	@scripts/install-test-deps.sh

# The build regenerates include/fdsafe.h; the committed copy must be what the sources make.
check-header: lib
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	    git diff --exit-code --stat -- include/fdsafe.h || \
	    { echo "include/fdsafe.h differs from what the sources generate: commit the regenerated header"; exit 1; }; \
	else echo "not a git checkout: header freshness not checked"; fi
	@$(PYTHON) scripts/gen_forged_calls.py --check --quiet || \
	    { echo "c-tests/forged_calls.h is stale: run scripts/gen_forged_calls.py and commit it"; exit 1; }
	@$(PYTHON) scripts/gen_python_constants.py --check || exit 1
	@# Every name the header defines or declares, #define lines included, has the prefix.
	@bad=$$( { grep -oE '^#[[:space:]]*define[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' include/fdsafe.h | awk '{print $$NF}'; \
	    grep -oE '^(typedef [a-z0-9_ ]+|(const )?[a-z0-9_]+ \**)[A-Za-z_][A-Za-z0-9_]*' include/fdsafe.h \
	    | grep -oE '[A-Za-z_][A-Za-z0-9_]*$$'; } | grep -vE '^(FDSAFE_|fdsafe_)' | sort -u); \
	    if [ -n "$$bad" ]; then echo "header exports names without the fdsafe prefix: $$bad"; exit 1; fi

rust-test:
	$(CARGO) test --quiet

# The handle table's reference, close, release and reuse protocol under loom: every
# interleaving of two threads, and of three up to a preemption bound (src/handles/loom_tests.rs).
loom:
	RUSTFLAGS="--cfg loom" $(CARGO) test --quiet --release --lib --target-dir target/loom loom_tests -- --test-threads=1

# The public header compiles cleanly alone, and before and after every system header of the
# kinds it wraps, as strict C99 and C11 and as C++17 (a name it defined twice would fail).
HEADER_SYSTEM := sys/fanotify.h sys/inotify.h sys/epoll.h sys/eventfd.h sys/timerfd.h sys/signalfd.h \
    sys/socket.h sys/un.h netinet/in.h netinet/tcp.h termios.h mqueue.h signal.h sys/mman.h limits.h \
    linux/limits.h fcntl.h sys/stat.h unistd.h poll.h
header-test: lib
	@mkdir -p $(OUT)
	printf '#include <fdsafe.h>\nint main(void) { return fdsafe_handle_kind(FDSAFE_INVALID_HANDLE) < 0 ? 0 : 1; }\n' > $(OUT)/header_c.c
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c $(OUT)/header_c.c -o $(OUT)/header_c.o
	cp $(OUT)/header_c.c $(OUT)/header_cpp.cpp
	g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -c $(OUT)/header_cpp.cpp -o $(OUT)/header_cpp.o
	@set -e; for order in before after; do \
	    { [ $$order = after ] && echo '#include <fdsafe.h>'; for h in $(HEADER_SYSTEM); do echo "#include <$$h>"; done; \
	      [ $$order = before ] && echo '#include <fdsafe.h>'; \
	      echo 'int main(void) { return fdsafe_handle_kind(FDSAFE_INVALID_HANDLE) < 0 ? 0 : 1; }'; } > $(OUT)/header_sys_$$order.c; \
	    for std in c99 c11; do $(CC) -std=$$std -D_GNU_SOURCE -Wall -Wextra -Werror -pedantic -Iinclude \
	        -c $(OUT)/header_sys_$$order.c -o $(OUT)/header_sys.o; done; \
	    cp $(OUT)/header_sys_$$order.c $(OUT)/header_sys_$$order.cpp; \
	    g++ -std=c++17 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -c $(OUT)/header_sys_$$order.cpp -o $(OUT)/header_sys.o; \
	done; echo "header-test: fdsafe.h compiles before and after $(words $(HEADER_SYSTEM)) system headers (C99, C11, C++17)"

# Only fdsafe_ symbols are exported, each under the version node libfdsafe.so.MAJOR (plus that
# node's own symbol), and the soname follows the major version.
symbols-test: lib
	@bad=$$(nm -D --defined-only $(LIB_SO) | awk '{print $$3}' | grep -v '^fdsafe_' \
	    | grep -vx 'libfdsafe.so.$(MAJOR)' || true); \
	    if [ -n "$$bad" ]; then echo "unexpected exported symbols:"; echo "$$bad"; exit 1; fi
	@unversioned=$$(objdump -T $(LIB_SO) | awk '/ fdsafe_/ && $$(NF-1) != "libfdsafe.so.$(MAJOR)" {print $$NF}'); \
	    if [ -n "$$unversioned" ]; then echo "symbols outside the version node:"; echo "$$unversioned"; exit 1; fi
	@soname=$$(objdump -p $(LIB_SO) | awk '/SONAME/ {print $$2}'); \
	    [ "$$soname" = "libfdsafe.so.$(MAJOR)" ] || { echo "soname is '$$soname'"; exit 1; }
	@echo "symbols-test: $$(nm -D --defined-only $(LIB_SO) | grep -c ' fdsafe_') fdsafe_* symbols under version node libfdsafe.so.$(MAJOR), soname libfdsafe.so.$(MAJOR)"

# Each C test is built three ways: shared library, static library, and static with ASan+UBSan.
c-test: lib
	@mkdir -p $(OUT)
	@$(PYTHON) scripts/gen_forged_calls.py --quiet
	@set -e; for t in $(C_TESTS); do \
	    $(CC) $(CFLAGS_STRICT) c-tests/$$t.c $(C_HARNESS) -L$(RELEASE) -lfdsafe -lcmocka -pthread \
	        -Wl,-rpath,$(CURDIR)/$(RELEASE) -o $(OUT)/$$t.dynamic; \
	    $(CC) $(CFLAGS_STRICT) c-tests/$$t.c $(C_HARNESS) $(LIB_A) -lcmocka $(STATIC_LIBS) -pthread -o $(OUT)/$$t.static; \
	    $(CC) $(CFLAGS_STRICT) $(SANITIZE) c-tests/$$t.c $(C_HARNESS) $(LIB_A) -lcmocka $(STATIC_LIBS) -pthread \
	        -o $(OUT)/$$t.asan; \
	done
	@set -e; for t in $(C_TESTS); do for v in dynamic static asan; do \
	    echo "== $$t ($$v)"; ./$(OUT)/$$t.$$v 2>&1 | tee $(OUT)/$$t.$$v.log; test $${PIPESTATUS[0]} -eq 0; \
	done; done

# The C tests again under valgrind memcheck: no errors, no definite or indirect leaks.
valgrind: c-test
	@set -e; for t in $(C_TESTS); do echo "== $$t (valgrind)"; \
	    FDSAFE_RACE_OPS=100000 valgrind --error-exitcode=99 --leak-check=full \
	        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	        ./$(OUT)/$$t.dynamic > $(OUT)/$$t.valgrind.log 2>&1 || { cat $(OUT)/$$t.valgrind.log; exit 1; }; \
	    grep -E "PASSED|FAILED|SKIPPED" $(OUT)/$$t.valgrind.log; done

# The examples: the README's first program, and the example daemon's scripted session.
$(OUT)/daemon: examples/daemon.c include/fdsafe.h lib
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS_STRICT) examples/daemon.c -L$(RELEASE) -lfdsafe -Wl,-rpath,$(CURDIR)/$(RELEASE) -o $@

example-test: lib $(OUT)/daemon
	$(CC) $(CFLAGS_STRICT) examples/hello.c -L$(RELEASE) -lfdsafe -Wl,-rpath,$(CURDIR)/$(RELEASE) -o $(OUT)/hello
	./$(OUT)/hello
	$(PYTHON) examples/demo.py --check $(OUT)/daemon

# The README's first command: build everything and run the example daemon with real clients.
demo: lib $(OUT)/daemon
	@command -v socat >/dev/null || scripts/install-test-deps.sh
	$(PYTHON) examples/demo.py $(OUT)/daemon

python-test: lib
	cd python-bindings && $(PYTHON) -m mypy --ignore-missing-imports fdsafe
	cd python-bindings && FDSAFE_LIBRARY=$(CURDIR)/$(LIB_SO) $(PYTHON) -m pytest -q tests

# The Python suite against a library built with AddressSanitizer (nightly), with the ASan
# runtime preloaded into the (uninstrumented) interpreter; Python's own leaks are not ours.
ASAN_LIB := target/asan/x86_64-unknown-linux-gnu/release/libfdsafe.so
python-asan:
	RUSTFLAGS="-Zsanitizer=address --cfg fdsafe_libc_syscalls" $(CARGO) +nightly build -q --release --target x86_64-unknown-linux-gnu \
	    --target-dir target/asan
	cd python-bindings && ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	    FDSAFE_LIBRARY=$(CURDIR)/$(ASAN_LIB) $(PYTHON) -m pytest -q tests

bench: lib
	@mkdir -p $(OUT)
	@# The echo benchmark's peer server is written on libuv: install it if missing, else skip that line.
	@pkg-config --exists libuv || { echo "bench: installing libuv1-dev (apt-get) for the echo server's libuv peer"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libuv1-dev > $(OUT)/bench-libuv.log 2>&1 || \
	    { apt-get update -q >> $(OUT)/bench-libuv.log 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q libuv1-dev >> $(OUT)/bench-libuv.log 2>&1; } || \
	    echo "bench: could not install libuv1-dev (see $(OUT)/bench-libuv.log)"; }
	$(CC) -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench.c $(LIB_A) $(STATIC_LIBS) -pthread -o $(OUT)/bench
	set -e; for b in lifecycle close_busy epoll_close recv; do \
	    $(CC) -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/$$b.c $(LIB_A) $(STATIC_LIBS) -pthread -o $(OUT)/bench-$$b; done
	if pkg-config --exists libuv; then \
	    $(CC) -O2 -std=c11 -D_GNU_SOURCE -Iinclude -DECHO_LIBUV $$(pkg-config --cflags libuv) bench/echo.c bench/echo_uv.c \
	        $(LIB_A) $$(pkg-config --libs libuv) $(STATIC_LIBS) -pthread -o $(OUT)/bench-echo; \
	else \
	    $(CC) -O2 -std=c11 -D_GNU_SOURCE -Iinclude -DECHO_NO_LIBUV='"libuv not found by pkg-config and libuv1-dev could not be installed"' \
	        bench/echo.c $(LIB_A) $(STATIC_LIBS) -pthread -o $(OUT)/bench-echo; \
	fi
	@# Each program prints its figures as it goes (in the order of issue 16's list: lifecycle,
	@# close, echo, then bench.c's round trips and epoll waits, epoll close, receive); the lines
	@# with a target, and the libuv peer lines, are gathered again at the end.
	@set -eo pipefail; rm -f $(OUT)/bench.log; \
	    for b in bench-lifecycle bench-close_busy bench-echo bench bench-epoll_close bench-recv; do \
	        ./$(OUT)/$$b | tee -a $(OUT)/bench.log; done
	FDSAFE_LIBRARY=$(CURDIR)/$(RELEASE)/libfdsafe.so python3 bench/python_bench.py
	@echo "== issue 16 figures (fdsafe against raw system calls in the same run; $(OUT)/bench.log has everything)"
	@grep -E '\[(target|peer)|libuv peer: skipped' $(OUT)/bench.log

# The handle table (no system calls) under Miri, nightly. Where the component cannot be
# installed the run says so in build/miri.log and the reliability table reports it skipped.
miri:
	@mkdir -p $(OUT)
	@if rustup component add --toolchain nightly miri rust-src > $(OUT)/miri.log 2>&1; then \
	    MIRIFLAGS=-Zmiri-ignore-leaks $(CARGO) +nightly miri test --lib handles:: 2>&1 | tee $(OUT)/miri.log | tail -n 3; \
	    test $${PIPESTATUS[0]} -eq 0; \
	else echo "skipped: Miri: rustup could not install the component: $$(tail -n 1 $(OUT)/miri.log)" | tee $(OUT)/miri.log; fi

# Random C-API call sequences (cargo-fuzz, libFuzzer with ASan). `make fuzz FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 20
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@mkdir -p $(OUT)/fuzz-corpus
	# New inputs go to build/fuzz-corpus; the committed seeds in fuzz/corpus are only read.
	$(CARGO) +nightly fuzz run api_sequence $(OUT)/fuzz-corpus fuzz/corpus/api_sequence -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | tee $(OUT)/fuzz.log | \
	    grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|ERROR|panicked"; \
	    test $${PIPESTATUS[0]} -eq 0

# The Rust tests (the handle table's concurrency tests above all) under ThreadSanitizer,
# nightly; skipped, and said so, where rust-src cannot be installed.
tsan:
	@mkdir -p $(OUT)
	@if rustup component add --toolchain nightly rust-src > $(OUT)/tsan.log 2>&1; then \
	    RUSTFLAGS="-Zsanitizer=thread --cfg fdsafe_libc_syscalls" TSAN_OPTIONS=halt_on_error=1 $(CARGO) +nightly test -q -Zbuild-std \
	        --target x86_64-unknown-linux-gnu --target-dir target/tsan --lib 2>&1 | tee $(OUT)/tsan.log | tail -n 2; \
	    test $${PIPESTATUS[0]} -eq 0; \
	else echo "skipped: ThreadSanitizer: rustup could not install rust-src: $$(tail -n 1 $(OUT)/tsan.log)" | tee $(OUT)/tsan.log; fi

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/lib/cmake/fdsafe
	install -m 0755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libfdsafe.so.$(VERSION)
	ln -sf libfdsafe.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libfdsafe.so.$(MAJOR)
	ln -sf libfdsafe.so.$(MAJOR) $(DESTDIR)$(PREFIX)/lib/libfdsafe.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libfdsafe.a
	install -m 0644 include/fdsafe.h $(DESTDIR)$(PREFIX)/include/fdsafe.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' fdsafe.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fdsafe.pc
	for f in fdsafeConfig fdsafeConfigVersion; do \
	    sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' cmake/$$f.cmake.in \
	        > $(DESTDIR)$(PREFIX)/lib/cmake/fdsafe/$$f.cmake; done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libfdsafe.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libfdsafe.so.$(MAJOR) \
	      $(DESTDIR)$(PREFIX)/lib/libfdsafe.so $(DESTDIR)$(PREFIX)/lib/libfdsafe.a \
	      $(DESTDIR)$(PREFIX)/include/fdsafe.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/fdsafe.pc \
	      $(DESTDIR)$(PREFIX)/lib/cmake/fdsafe/fdsafeConfig.cmake \
	      $(DESTDIR)$(PREFIX)/lib/cmake/fdsafe/fdsafeConfigVersion.cmake
	-rmdir $(DESTDIR)$(PREFIX)/lib/cmake/fdsafe 2>/dev/null

# Install into a temporary prefix and build an outside program with pkg-config and CMake.
install-test: lib
	tests/install/run.sh

clean:
	$(CARGO) clean
	rm -rf $(OUT)
