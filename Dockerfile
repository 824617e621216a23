# musicbot container image. See docs/operations.md ("Run in a container").
#   docker build -t musicbot .
#   docker run -d --name musicbot --env-file musicbot.env -v musicbot-data:/data \
#     -p 127.0.0.1:9464:9464 --stop-timeout 30 musicbot
# ffmpeg is the static binary shipped in the imageio-ffmpeg wheel, and deno (the JavaScript
# runtime yt-dlp needs for YouTube) the one in the deno wheel. The build stage alone installs a
# C compiler and OpenSSL's headers, for the voice sender's C accelerator; the runtime image
# needs only libssl3, which python:3.11-slim already has.
#
# yt-dlp goes stale: YouTube breaks releases older than a few weeks (the bot warns past 60 days,
# in its log, /health, /metrics and `doctor`). Rebuild the image regularly, or upgrade in place
# outside the pins of constraints.txt, as `make update-extractor` does:
#   docker exec musicbot /opt/venv/bin/pip install -U 'yt-dlp[default]' yt-dlp-ejs deno
#   docker restart musicbot
# (the upgrade lasts until the container is recreated; a rebuild with --no-cache takes the pins).
# Check a new server or image with: docker run --rm --env-file musicbot.env musicbot doctor

# ---- build: install the project and its pinned dependencies into a venv
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY musicbot ./musicbot
COPY actors ./actors
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -c constraints.txt . \
    && /opt/venv/bin/python -c "from musicbot.voice import rtp; assert rtp.NATIVE, 'the C accelerator was not built'" \
    && /opt/venv/bin/python -c "import imageio_ffmpeg, subprocess; subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-version'], check=True, capture_output=True)" \
    && /opt/venv/bin/python -c "from musicbot.extract.runtime import js_runtimes, solver_report as s; r = s({'js_runtimes': js_runtimes('deno')}); print(r); assert r.ok, r.problem"

# ---- runtime
FROM python:3.11-slim
RUN groupadd --system --gid 10001 musicbot \
    && useradd --system --uid 10001 --gid musicbot --home-dir /home/musicbot --create-home \
       --shell /usr/sbin/nologin musicbot \
    && mkdir -p /data /etc/musicbot \
    && chown musicbot:musicbot /data
COPY --from=build /opt/venv /opt/venv
COPY config.toml /etc/musicbot/config.toml

# Environment overrides of config.toml (MUSICBOT_<SECTION>_<KEY>): data in the /data volume,
# JSON log lines on stderr, and the ops endpoint on every interface of the container (publish
# it only to a private address). DISCORD_TOKEN comes from `--env-file` or a secret, never here.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MUSICBOT_STORAGE_DATA_DIR=/data \
    MUSICBOT_LOG_FORMAT=json \
    MUSICBOT_OPS_LISTEN=0.0.0.0:9464

USER musicbot
WORKDIR /home/musicbot
VOLUME ["/data"]
EXPOSE 9464

# The probe reads the same config and environment as the bot: it asks /healthz on the
# configured [ops] listen port (exit 1 when unhealthy or unreachable), or passes when
# listen is "" (the endpoint is off, nothing to check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "musicbot.ops.probe", "--config", "/etc/musicbot/config.toml"]

# SIGTERM starts the graceful stop (leave voice, flush state); give it more than
# [ops] shutdown_timeout with `docker stop -t 30` / `--stop-timeout 30` / compose stop_grace_period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "musicbot"]
CMD ["run", "--config", "/etc/musicbot/config.toml"]
# Optional: PO tokens for YouTube (bgutil-ytdlp-pot-provider, see docs/operations.md) with
#   pip install -c constraints.txt '.[youtube-pot]'   in the build stage instead of '.'.
