"""Stage 7, viewer: a planned case folder in an interactive PyVista window (or a PNG).

``case_plotter(folder)`` returns the plotter (for notebooks and scripts, not shown);
``show_case(folder)`` opens the window; ``save_screenshot(folder, png)`` renders it off-screen.
"""

from .layers import toggle_group
from .plotter import TITLE, case_plotter, case_view, check_case_folder, save_screenshot, show_case

__all__ = ["TITLE", "case_plotter", "case_view", "check_case_folder", "save_screenshot", "show_case",
           "toggle_group"]
