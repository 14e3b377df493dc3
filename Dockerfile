# Two images from one file, both unprivileged (user "catembed"), models in /models:
#   docker build --target api   -t catembed:api .    the service: NumPy forward pass, no TensorFlow
#   docker build --target train -t catembed:train .  the trainer: TensorFlow CPU, pandas, scikit-learn
# Stages are ordered so that `--target api` never builds the TensorFlow layers.
# docker-compose.yml wires them together: train once into a volume, then serve it.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin catembed \
    && mkdir /models \
    && chown catembed:catembed /models
WORKDIR /home/catembed

# ---- the serving environment: dependencies from pyproject.toml alone, then the code ----
FROM base AS api-build
WORKDIR /src
COPY pyproject.toml ./
# a code change re-runs only the last two layers, not this download
RUN python -m venv /opt/venv \
    && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
COPY README.md ./
COPY features features
COPY training training
COPY app app
COPY scoring scoring
COPY cli cli
# then drop the installers (nothing installs packages at run time); the .pyc files stay: they
# are what makes the service start in about a second
RUN pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes pip setuptools

# ---- the service image ----
FROM base AS api
COPY --from=api-build /opt/venv /opt/venv
USER 10001:10001
ENV CATEMBED_MODEL_DIR=/models/flights
EXPOSE 8000
# python, not curl: the slim image has no curl, and adding it would add a package to patch
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
# exec form: catembed is PID 1 and gets SIGTERM itself, so in-flight requests are drained
CMD ["catembed", "serve", "--host", "0.0.0.0", "--port", "8000"]

# ---- the trainer image: one layer of dependencies (~1.8 GB, cached), the code on top ----
# built in place rather than copied from a build stage: re-copying 1.8 GB on every code change
# is what made rebuilds slow
FROM base AS train
COPY pyproject.toml /src/
RUN python -m venv /opt/venv \
    && python -c "import tomllib; p = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['train']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY README.md /src/
COPY features /src/features
COPY training /src/training
COPY app /src/app
COPY scoring /src/scoring
COPY cli /src/cli
# the .pyc files stay here: without them every run would recompile TensorFlow's Python on import
RUN pip install --no-cache-dir --no-deps /src \
    && rm -rf /src
USER 10001:10001
ENV TF_CPP_MIN_LOG_LEVEL=2
CMD ["catembed", "train", "--demo", "--out", "/models", "--name", "flights"]
