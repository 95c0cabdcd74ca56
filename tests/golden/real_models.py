"""Three published U-Nets, rebuilt layer for layer with tiny channel counts (architecture only).

* ``pix2pix``: the UnetGenerator of junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py,
  UnetSkipConnectionBlock: Conv2d(4, 2, 1) down, ConvTranspose2d(4, 2, 1) up, the skip
  concatenated before each block's output), ``unet_256`` (8 downsamplings), ngf=2.
* ``pytorch_unet`` / ``pytorch_unet_bilinear``: milesial/Pytorch-UNet (unet/unet_parts.py,
  unet_model.py): DoubleConv, Down = MaxPool2d(2) + DoubleConv, Up = ConvTranspose2d(2, 2) or
  Upsample(2, bilinear, align_corners) + DoubleConv, with the F.pad that pads the upsampled
  tensor to the skip's size before the concatenation; channels 64..1024 divided by 16.
* ``keras_io_unet``: the keras-io example "Image segmentation with a U-Net-like architecture"
  (oxford_pets_image_segmentation.py, get_model): strided Conv2D entry, SeparableConv2D blocks
  with MaxPooling2D(3, 2, 'same') and 1x1 strided residuals, then Conv2DTranspose blocks with
  UpSampling2D(2) and upsampled residuals; filters divided by 8.

Imported by make_nets.py in the framework workers only (it imports torch or keras lazily).
"""

from __future__ import annotations

# name -> (framework, the held size of the other axis, the sizes swept on axis 0)
MODELS = {
    "pix2pix": ("torch", 256, 600),
    "pytorch_unet": ("torch", 64, 300),
    "pytorch_unet_bilinear": ("torch", 64, 300),
    "keras_io_unet": ("keras", 160, 300),
}


def torch_model(name):
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class UnetSkipConnectionBlock(nn.Module):
        def __init__(
            self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False
        ):
            super().__init__()
            self.outermost = outermost
            input_nc = outer_nc if input_nc is None else input_nc
            downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
            downrelu = nn.LeakyReLU(0.2, True)
            downnorm = nn.BatchNorm2d(inner_nc)
            uprelu = nn.ReLU(True)
            upnorm = nn.BatchNorm2d(outer_nc)
            if outermost:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
                model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
            elif innermost:
                upconv = nn.ConvTranspose2d(
                    inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
                )
                model = [downrelu, downconv, uprelu, upconv, upnorm]
            else:
                upconv = nn.ConvTranspose2d(
                    inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
                )
                model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            self.model = nn.Sequential(*model)

        def forward(self, x):
            if self.outermost:
                return self.model(x)
            return torch.cat([x, self.model(x)], 1)

    def unet_generator(input_nc, output_nc, num_downs, ngf):
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        return UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True)

    class DoubleConv(nn.Module):
        def __init__(self, in_channels, out_channels, mid_channels=None):
            super().__init__()
            mid_channels = mid_channels or out_channels
            self.double_conv = nn.Sequential(
                nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(mid_channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            )

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, in_channels, out_channels, bilinear):
            super().__init__()
            if bilinear:
                self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
                self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
            else:
                self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
                self.conv = DoubleConv(in_channels, out_channels)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            diff_y = x2.size()[2] - x1.size()[2]
            diff_x = x2.size()[3] - x1.size()[3]
            x1 = F.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
            return self.conv(torch.cat([x2, x1], dim=1))

    class UNet(nn.Module):
        def __init__(self, n_channels, n_classes, bilinear, width=4):
            super().__init__()
            factor = 2 if bilinear else 1
            self.inc = DoubleConv(n_channels, width)
            self.down1 = Down(width, 2 * width)
            self.down2 = Down(2 * width, 4 * width)
            self.down3 = Down(4 * width, 8 * width)
            self.down4 = Down(8 * width, 16 * width // factor)
            self.up1 = Up(16 * width, 8 * width // factor, bilinear)
            self.up2 = Up(8 * width, 4 * width // factor, bilinear)
            self.up3 = Up(4 * width, 2 * width // factor, bilinear)
            self.up4 = Up(2 * width, width, bilinear)
            self.outc = nn.Conv2d(width, n_classes, kernel_size=1)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x4 = self.down3(x3)
            x5 = self.down4(x4)
            x = self.up1(x5, x4)
            x = self.up2(x, x3)
            x = self.up3(x, x2)
            x = self.up4(x, x1)
            return self.outc(x)

    torch.manual_seed(0)
    if name == "pix2pix":
        model = unet_generator(3, 3, 8, ngf=2)
    else:
        model = UNet(3, 2, bilinear=name.endswith("bilinear"))
    return model.eval()


def keras_model(name, size=(160, 160)):
    import keras
    from keras import layers

    assert name == "keras_io_unet"
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(*size, 3))
    x = layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x
    for filters in [8, 16, 32]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x
    for filters in [32, 16, 8, 4]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous_block_activation = x
    outputs = layers.Conv2D(3, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs, name=name)
