/*
 * spec.c — the built-in networks of §5, each written in the paper's notation (notation.c) or
 * as a description (netfile.c); this file sits above both and is called by neither.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "spikebp.h"

/* Built-in networks (§5). LeNet and VGG9 are the reference code's networks; ResNet11 is the
 * reference code's residual network; VGG7 (SVHN) and ResNet9 appear in the paper only, and
 * the layer lists below are OUR READING of it (README, "Built-in networks"). Dropout and
 * initialisation per §4. Descriptions use the format of netfile.c. */
static const char vgg9[] = "[input]\nshape = 32x32x3\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[dense]\nunits = 1024\ndropout = 0.2\n[output]\nclasses = 10\n";

/* Our reading: VGG9 without its third 256-filter stage (5 conv + 2 dense weight layers). */
static const char vgg7[] = "[input]\nshape = 32x32x3\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[dense]\nunits = 1024\ndropout = 0.2\n[output]\nclasses = 10\n";

#define RES_CONV(f, extra) "[conv]\nfilters = " #f "\nkernel = 3\ndropout = 0.25\n" extra

static const char resnet11[] =
    "[input]\nshape = 32x32x3\n[neuron]\ninit_gain = 1\n" RES_CONV(64, "") "[pool]\nname = p1\n"
    /* B1 64→128, 1×1 conv shortcut */
    RES_CONV(128, "") RES_CONV(128, "shortcut = conv\nfrom = p1\nname = b1\n")
    /* B2 128→256, second conv stride 2, 1×1 stride-2 conv shortcut */
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = conv\nfrom = b1\nname = b2\n")
    /* B3 256→512, 1×1 conv shortcut */
    RES_CONV(512, "") RES_CONV(512, "shortcut = conv\nfrom = b2\nname = b3\n")
    /* B4 512→512, second conv stride 2, stride-2 subsample shortcut */
    RES_CONV(512, "") RES_CONV(512, "stride = 2\nshortcut = subsample\nfrom = b3\n")
    "[dense]\nunits = 1024\ndropout = 0.25\n[output]\nclasses = 10\n";

/* Our reading: ResNet11 without block B3; B4 then maps 256→256 (subsample shortcut). */
static const char resnet9[] =
    "[input]\nshape = 32x32x3\n[neuron]\ninit_gain = 1\n" RES_CONV(64, "") "[pool]\nname = p1\n"
    RES_CONV(128, "") RES_CONV(128, "shortcut = conv\nfrom = p1\nname = b1\n")
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = conv\nfrom = b1\nname = b2\n")
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = subsample\nfrom = b2\n")
    "[dense]\nunits = 1024\ndropout = 0.25\n[output]\nclasses = 10\n";

static const struct {
    const char *name;
    const char *notation;    /* paper notation, or NULL */
    const char *description; /* description text, or NULL */
} builtins[] = {
    {"lenet", "28x28x1-20C5-P2-50C5-P2-200FC-10", NULL},
    {"vgg9", NULL, vgg9},
    {"vgg7", NULL, vgg7},
    {"resnet11", NULL, resnet11},
    {"resnet9", NULL, resnet9},
};

sbp_status sbp_net_spec_builtin(sbp_net_spec *spec, const char *name, sbp_error *err)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strcmp(name, builtins[i].name) != 0)
            continue;
        if (builtins[i].notation)
            return sbp_net_spec_parse(spec, builtins[i].notation, err);
        char origin[64];
        snprintf(origin, sizeof origin, "built-in network %s", name);
        return sbp_net_spec_parse_description(spec, builtins[i].description, origin, err);
    }
    return sbp_fail(err, SBP_ERR_INVALID_ARG,
                    "unknown network '%s' (built in: lenet, vgg9, vgg7, resnet11, resnet9; or "
                    "the paper's notation, or a description file)",
                    name);
}
