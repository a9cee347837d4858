# The front door (as QEMU does): make installs what the build needs, then
# drives Meson and Ninja. Every program lands in build/bin/.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
# The kernel of vm qubes, fetched (not installed) once for every build tree.
GUEST_KERNEL := $(CURDIR)/$(BUILD)/guest-kernel

.PHONY: all deps guest-kernel format-check check check-vm unit e2e demo bench fuzz install clean

# deps comes first for everything that runs meson or ninja: it is an
# order-only prerequisite of each such target, so with -j no `meson setup`
# starts before install-deps ended (it is phony, so it runs, cheaply, on
# every make: a package removed since is installed again).
all: $(BUILD)/build.ninja | deps guest-kernel
	ninja -C $(BUILD)

deps:
	@sh scripts/install-deps.sh

# cheap when the kernel is the one apt offers (two apt-cache queries); after
# deps, which installs what it runs
guest-kernel: | deps
	@sh scripts/fetch-guest-kernel.sh $(GUEST_KERNEL)

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --prefix=$(PREFIX) -Dguest_kernel_dir=$(GUEST_KERNEL)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug -Dguest_kernel_dir=$(GUEST_KERNEL)

# The tree's C is laid out as .clang-format says (scripts/format.sh rewrites it); checked
# first, before anything is built.
format-check: | deps
	@sh scripts/format.sh --check

check: format-check all $(ASAN_BUILD)/build.ninja | deps guest-kernel
	ninja -C $(ASAN_BUILD)
	@python3 scripts/check.py $(BUILD) $(ASAN_BUILD)

# The vm driver's slow tests under TCG: the guest's own boot checks and figures,
# then the vm qubes' end-to-end tests (make check runs the latter too).
check-vm: all
	python3 tests/vm/test_vm_guest.py $(BUILD)
	bash tests/e2e/run.sh $(BUILD) tests/e2e/test_vm.sh

demo: all
	@bash scripts/demo.sh $(BUILD)

bench: all
	@bash bench/run.sh $(BUILD)

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Db_lundef=false \
		-Db_sanitize=address,undefined -Dbuildtype=debug -Dguest_kernel_dir=$(GUEST_KERNEL)

fuzz: $(FUZZ_BUILD)/build.ninja | deps guest-kernel
	ninja -C $(FUZZ_BUILD)
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: all
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
