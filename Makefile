# 公安局办公平台 — the two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test install system-deps lint unit browser lab bench bench-full clean-var help

help:
	@echo "make run    准备并启动平台（内置 PostgreSQL、演示数据），http://127.0.0.1:8888"
	@echo "make test   安装测试所需并运行全部测试（单元、数据库、浏览器、实验环境）"
	@echo "make lint   代码检查（ruff、ansible-lint、yamllint）"
	@echo "make bench  负载基准测试（短版 < 5 分钟，报告在 bench/results/）；make bench-full 为完整版"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更新版本")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the platform and its tests need (PostgreSQL server, Chromium, lab tools).
system-deps:
	bash scripts/install-system-deps.sh

run: install
	bash scripts/install-system-deps.sh --postgres-only
	$(BIN)/oa-ops run

lint: install
	$(BIN)/ruff check app ops_cli tests bench
	cd ansible && ../$(BIN)/ansible-lint -c .ansible-lint
	$(BIN)/yamllint -c ansible/.yamllint -s ansible inventories

test: install system-deps lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not browser and not lab"

browser: install system-deps
	$(BIN)/pytest -m browser

lab: install system-deps
	$(BIN)/pytest -m lab

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

# The load benchmark (bench/README.md): the short version takes under 5 minutes once the seed
# is cached (about a minute more after a migration change); the report goes to bench/results/.
bench: $(BENCH_STAMP)
	bash scripts/install-system-deps.sh --postgres-only
	$(BIN)/python -m bench.run

bench-full: $(BENCH_STAMP)
	bash scripts/install-system-deps.sh --postgres-only
	$(BIN)/python -m bench.run --full

clean-var:
	@echo "停止内置数据库并删除 var/（本地演示数据将全部丢失）"
	@read -r -p "确认删除？输入 yes 继续：" answer && [ "$$answer" = yes ]
	-$(BIN)/python -c 'from ops_cli.runtime import embedded_cluster; embedded_cluster().stop()'
	rm -rf var
