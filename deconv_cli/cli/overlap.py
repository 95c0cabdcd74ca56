"""``deconv overlap``: taps per output position, and the checkerboard an uneven count draws."""

import sys

from deconv_cli.cli.app import Dilation, Json, Kernel, Stride, app
from deconv_cli.core import parse


@app.command()
def overlap(
    kernel_size: Kernel,
    stride: Stride,
    dilation: Dilation = "1",
    as_json: Json = False,
) -> None:
    """Taps per output position over one period: even, or uneven (checkerboard risk), 1-D or 2-D.

    Output position t gets one tap per kernel index j with j*d = t (mod s); uneven counts
    print as a checkerboard. Also names the nearest kernel sizes with even coverage.
    """
    from deconv_cli.cli import draw
    from deconv_cli.core.overlap import overlap as solve_overlap

    values = parse.per_axis(
        {
            "--k": parse.ints(kernel_size, "--k"),
            "--s": parse.ints(stride, "--s"),
            "--d": parse.ints(dilation, "--d"),
        }
    )
    report = solve_overlap(values["--k"], values["--s"], values["--d"])
    draw.overlap(report, sys.stdout, terminal=sys.stdout.isatty(), as_json=as_json)
