"""make demo's command line, without starting Voilà (tests/browser/test_voila_demo.py does that)."""
import pytest

from course_utils import demo


def test_every_listed_demo_has_a_widget_and_the_template_is_on_the_jupyter_path():
    names = demo.notebooks_with_widgets()
    assert "03_occlusion" in names and "10_explicit_models" in names
    argv, env = demo.voila_command("03_occlusion", port=8899, open_browser=False)
    assert argv[1:3] == ["-m", "voila"] and argv[3].endswith("notebooks/03_occlusion.ipynb")
    assert "--template=lecture-demo" in argv and "--port=8899" in argv and "--no-browser" in argv
    assert (demo.TEMPLATE_ROOT / "voila" / "templates" / "lecture-demo" / "index.html.j2").exists()
    assert env["JUPYTER_PATH"].split(":")[0] == str(demo.TEMPLATE_ROOT)


def test_voila_command_checks_its_inputs():
    with pytest.raises(ValueError, match="unknown notebook"):
        demo.voila_command("99_missing")
    with pytest.raises(ValueError, match="no demo widget"):
        demo.voila_command("08_dense_sparse_dense")
    with pytest.raises(ValueError, match="port"):
        demo.voila_command("03_occlusion", port=0)
    with pytest.raises(TypeError, match="lecture name"):
        demo.voila_command(3)
