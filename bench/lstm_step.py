# bench/lstm_step.py - the PyTorch side of bench/lstm_step.lua: same model,
# batch, loop; 2 threads. Usage: python bench/lstm_step.py [--steps N]
import argparse, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
V, B, T = 114, 32, 64


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, 64)
        self.lstm = nn.LSTM(64, 256, num_layers=2, dropout=0.2, batch_first=True)
        self.head = nn.Linear(256, V)

    def forward(self, x):
        return self.head(self.lstm(self.embed(x))[0])


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
x = torch.randint(0, V, (B, T))
y = torch.randint(0, V, (B, T))


def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x).reshape(B * T, V), y.reshape(B * T))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()


for _ in range(a.warmup):
    step()
t0 = time.time()
for _ in range(a.steps):
    step()
print("RESULT lstm_step_ms %.2f" % ((time.time() - t0) / a.steps * 1e3))
