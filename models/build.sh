#!/bin/sh
# Rebuild the INT8 model (needs the "models" extra); --check compares with the checksum.
exec python -m proveo.moderation.modelbuild --output "$(dirname "$0")/../src/proveo/moderation/assets/open-nsfw-int8.onnx" "$@"
