"""Writes the small real-world images in tests/data/upload/ (run from the repository root).

They come from encoders tastebud does not have (libwebp through Pillow for lossy and animated
WebP, Pillow's APNG, animated GIF, progressive and CMYK JPEG writers), so the upload tests and
the fuzz target's seed corpus see files as other programs write them. Needs `pip install
pillow`; the files are committed, so the tests do not.
"""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path("tests/data/upload")


def picture(width, height, shift=0, mode="RGB"):
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for x in range(width):
        draw.line([(x, 0), (x, height)], fill=((x * 7 + shift) % 256, (x * 3) % 256, 120))
    draw.ellipse([width // 4, height // 4, width * 3 // 4, height * 3 // 4], fill=(240, 200, 40))
    return image.convert(mode)


def frames(count, width, height, mode="RGB"):
    return [picture(width, height, 40 * i, mode) for i in range(count)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    picture(40, 30).save(OUT / "lossy.webp", quality=60)
    transparent = picture(40, 30, mode="RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize((40, 30)))
    transparent.save(OUT / "lossy_alpha.webp", quality=60)
    picture(40, 30).save(OUT / "lossless.webp", lossless=True)
    still = frames(3, 40, 30)
    still[0].save(OUT / "animated_lossy.webp", save_all=True, append_images=still[1:],
                  duration=100, loop=0, quality=50)
    still[0].save(OUT / "animated_lossless.webp", save_all=True, append_images=still[1:],
                  duration=100, loop=0, lossless=True)
    see_through = frames(3, 40, 30, "RGBA")
    for frame in see_through:
        frame.putalpha(Image.linear_gradient("L").resize((40, 30)))
    see_through[0].save(OUT / "animated_alpha.webp", save_all=True,
                        append_images=see_through[1:], duration=100, loop=0, quality=50)
    still[0].save(OUT / "animated.png", save_all=True, append_images=still[1:], duration=100,
                  loop=0)
    paletted = [frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=16) for frame in still]
    paletted[0].save(OUT / "animated.gif", save_all=True, append_images=paletted[1:],
                     duration=100, loop=0)
    picture(40, 30).save(OUT / "progressive.jpg", quality=70, progressive=True)
    picture(40, 30).convert("CMYK").save(OUT / "cmyk.jpg", quality=70)
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
