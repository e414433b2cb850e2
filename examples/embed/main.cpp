// Embedding libbcp: build BCP's ACDC network (or load a bcp checkpoint), segment one image and
// score the result with the paper's metrics.
//   segment                 a fresh UNet on a synthetic image
//   segment MODEL.h5        a trained network (bcp train's best.h5, bcp import's output)
#include <torch/torch.h>

#include <bcp/eval/binary_metrics.h>
#include <bcp/nets/model_archive.h>
#include <bcp/version.h>
#include <iostream>

int main(int argc, char** argv) {
  try {
    torch::manual_seed(0);
    std::shared_ptr<bcp::nets::SegmentationNetImpl> net =
        argc > 1 ? bcp::nets::load_model(argv[1]).model
                 : bcp::nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
    net->eval();
    torch::NoGradGuard no_grad;
    // A bright disc on a dark background stands in for a cardiac slice.
    auto ys = torch::arange(128, torch::kFloat32).view({128, 1});
    auto xs = torch::arange(128, torch::kFloat32).view({1, 128});
    auto disc = ((ys - 64).pow(2) + (xs - 64).pow(2)) < 30 * 30;
    auto image = disc.to(torch::kFloat32).view({1, 1, 128, 128});
    auto labels = net->forward(image).argmax(1)[0];
    auto scores = bcp::eval::binary_scores(labels == 3, disc);
    std::cout << "bcp " << BCP_VERSION << ": predicted " << labels.ne(0).sum().item<int64_t>()
              << " foreground pixels; class 3 vs the disc: Dice " << scores.dice << ", 95HD "
              << scores.hd95 << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "segment: error: " << e.what() << "\n";
    return 1;
  }
}
