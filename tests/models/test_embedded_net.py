"""The embedded network's inference copy: batch normalisation folded into the convolutions."""

from __future__ import annotations

import torch

from napari_fada.models.embedded_net import EmbeddedNet, NetConfig, fused_for_inference


def test_the_fused_copy_gives_the_trained_networks_outputs_without_batch_norm():
    torch.manual_seed(0)
    net = EmbeddedNet(NetConfig(num_structures=3, num_planes=4, channels=(4, 6, 8, 10, 12)))
    net.train()
    with torch.no_grad():  # running statistics far from the initial 0 / 1
        for _ in range(5):
            net(3 * torch.randn(2, 1, 32, 48) + 1)
    net.eval()
    x = torch.randn(1, 1, 32, 48)
    fused = fused_for_inference(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original kept
    with torch.inference_mode():
        (seg, plane), (fused_seg, fused_plane) = net(x), fused(x)
    assert torch.allclose(seg, fused_seg, atol=1e-4)
    assert torch.allclose(plane, fused_plane, atol=1e-4)
