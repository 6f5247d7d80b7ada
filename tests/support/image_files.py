"""Write CIFAR-style uint8 NCHW images as PNG files, as a user's folder would hold them."""

from PIL import Image


def write_pngs(folder, images_nchw, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images_nchw):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{(names or {}).get(i, f'{i:04d}')}.png")
