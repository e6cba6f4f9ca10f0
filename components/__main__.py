"""The plugin's entry point. For `pulumi package add ./components` (and every program that uses the
package) the Pulumi engine runs `python <this directory> <engine address>`; the provider prints its
port on stdout and answers over gRPC.

Python puts this directory, not its parent, on sys.path; the package's modules import each other as
`components.*`, so the parent goes first on the path. That also makes it start from any working directory.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from components.provider import serve

    serve()
