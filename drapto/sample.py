"""``python -m drapto.sample out.mkv``: a generated sample movie (drapto/media/demo.py)."""

from drapto.media.demo import main

if __name__ == "__main__":
    main()
