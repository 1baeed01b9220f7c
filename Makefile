# Builds and installs libipcshim for C programs, in cargo-c's layout:
#
#   make                  cargo build --release
#   make install          installs (building first if nothing is built):
#                           $(LIBDIR)/libipcshim.so.$(VERSION)   the library
#                           $(LIBDIR)/libipcshim.so.$(MAJOR)     link (the soname)
#                           $(LIBDIR)/libipcshim.so              link (for -lipcshim)
#                           $(INCLUDEDIR)/ipcshim/ipcshim.h
#                           $(PKGCONFIGDIR)/ipcshim.pc
#                           $(BINDIR)/ipcshim                    if target/release has it
#   make uninstall        removes exactly those files
#
# Variables: PREFIX (default /usr/local), LIBDIR, INCLUDEDIR, BINDIR,
# PKGCONFIGDIR (derived from PREFIX unless given), DESTDIR (a staging root
# put in front of every path; the installed ipcshim.pc names the paths
# without it), LIBRARY and PROGRAM (what to install; default: what
# `cargo build --release` made, CARGO_TARGET_DIR honoured), RPATH (auto,
# yes or no).
#
# Finding the library at run time: with RPATH=auto (the default) the
# installed ipcshim.pc adds `-Wl,-rpath,${libdir}` to Libs unless LIBDIR is
# one of the dynamic loader's own directories (/lib, /usr/lib, their lib64
# and multiarch forms), so a program built with `pkg-config --libs ipcshim`
# runs with no LD_LIBRARY_PATH, wherever PREFIX is, /usr/local included,
# and before any ldconfig. When DESTDIR is empty, install and uninstall
# also run ldconfig if LIBDIR is in its configuration (as /usr/local/lib is
# on Debian), so that `LD_PRELOAD=libipcshim.so` by bare name works too.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
RPATH ?= auto
CARGO ?= cargo

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LIBRARY ?= $(TARGET_DIR)/release/libipcshim.so
PROGRAM ?= $(TARGET_DIR)/release/ipcshim

VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
REAL_NAME := libipcshim.so.$(VERSION)
SONAME := libipcshim.so.$(MAJOR)

comma := ,
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LOADER_DIRS := /lib /usr/lib /lib64 /usr/lib64 $(if $(MULTIARCH),/lib/$(MULTIARCH) /usr/lib/$(MULTIARCH))
ifeq ($(RPATH),yes)
PC_RPATH := -Wl$(comma)-rpath$(comma)$${libdir}
else ifeq ($(RPATH),no)
PC_RPATH :=
else
PC_RPATH := $(if $(filter $(LIBDIR),$(LOADER_DIRS)),,-Wl$(comma)-rpath$(comma)$${libdir})
endif

# ldconfig, when installing for real into a directory it is configured for.
define refresh_loader_cache
	@if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null \
	   && cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep -qx '$(LIBDIR)'; then \
	  echo ldconfig; ldconfig; fi
endef

.PHONY: all build install uninstall

all: build

build:
	$(CARGO) build --release

# Built on demand only: `make install` never rebuilds what is there.
$(TARGET_DIR)/release/libipcshim.so:
	$(CARGO) build --release

install: $(LIBRARY)
	install -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(INCLUDEDIR)/ipcshim'
	install -m 0755 '$(LIBRARY)' '$(DESTDIR)$(LIBDIR)/$(REAL_NAME)'
	ln -sf '$(REAL_NAME)' '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf '$(REAL_NAME)' '$(DESTDIR)$(LIBDIR)/libipcshim.so'
	install -m 0644 include/ipcshim.h '$(DESTDIR)$(INCLUDEDIR)/ipcshim/ipcshim.h'
	sed -e '/^# Template/d' -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@HEADER_SUBDIR@|/ipcshim|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@RPATH@ |$(if $(PC_RPATH),$(PC_RPATH) ,)|' \
	    pkgconfig/ipcshim.pc.in > '$(DESTDIR)$(PKGCONFIGDIR)/ipcshim.pc'
	chmod 0644 '$(DESTDIR)$(PKGCONFIGDIR)/ipcshim.pc'
	@if [ -f '$(PROGRAM)' ]; then \
	  echo "install -m 0755 '$(PROGRAM)' '$(DESTDIR)$(BINDIR)/ipcshim'"; \
	  install -d '$(DESTDIR)$(BINDIR)' && install -m 0755 '$(PROGRAM)' '$(DESTDIR)$(BINDIR)/ipcshim'; fi
	$(refresh_loader_cache)

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/$(REAL_NAME)' '$(DESTDIR)$(LIBDIR)/$(SONAME)' '$(DESTDIR)$(LIBDIR)/libipcshim.so' \
	      '$(DESTDIR)$(INCLUDEDIR)/ipcshim/ipcshim.h' '$(DESTDIR)$(PKGCONFIGDIR)/ipcshim.pc' \
	      '$(DESTDIR)$(BINDIR)/ipcshim'
	@if [ -d '$(DESTDIR)$(INCLUDEDIR)/ipcshim' ]; then rmdir --ignore-fail-on-non-empty '$(DESTDIR)$(INCLUDEDIR)/ipcshim'; fi
	$(refresh_loader_cache)
