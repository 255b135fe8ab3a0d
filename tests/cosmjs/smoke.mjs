// The ordinary cosmjs client, unpatched, against a Comrade node:
//   node smoke.mjs <cometbft rpc url> <funded key, 64 hex> <chain id>
// Exits non-zero (with the failed assertion) if any step misbehaves.
import assert from "node:assert/strict";
import { StargateClient, SigningStargateClient } from "@cosmjs/stargate";
import { DirectSecp256k1Wallet } from "@cosmjs/proto-signing";
import { fromHex, toBech32 } from "@cosmjs/encoding";

const [rpc, keyHex, chainId] = process.argv.slice(2);
const wallet = await DirectSecp256k1Wallet.fromKey(fromHex(keyHex), "comrade");
const [{ address }] = await wallet.getAccounts();
const client = await StargateClient.connect(rpc);
assert.equal(await client.getChainId(), chainId);

// Accounts and balances through cosmos.auth.v1beta1 / cosmos.bank.v1beta1.
const account = await client.getAccount(address);
assert.ok(account, "funded account exists");
assert.equal(account.address, address);
const balance = await client.getBalance(address, "ucomrade");
assert.equal(balance.denom, "ucomrade");
assert.ok(BigInt(balance.amount) > 0n, "funded account has a balance");
const all = await client.getAllBalances(address);
assert.deepEqual(all, [balance]);

// An account that never held funds is null, not an error (a random
// address, so the script can run again against the same network).
const fresh = toBech32("comrade", crypto.getRandomValues(new Uint8Array(20)));
assert.equal(await client.getAccount(fresh), null);
assert.equal((await client.getBalance(fresh, "ucomrade")).amount, "0");

// sendTokens with an explicit fee, then the tx by hash.
const signer = await SigningStargateClient.connectWithSigner(rpc, wallet);
const fee = { amount: [{ denom: "ucomrade", amount: "50000" }], gas: "200000" };
const res = await signer.sendTokens(address, fresh, [{ denom: "ucomrade", amount: "1234" }], fee, "cosmjs");
assert.equal(res.code, 0, `sendTokens: ${res.rawLog}`);
assert.equal((await client.getBalance(fresh, "ucomrade")).amount, "1234");
const after = await client.getBalance(address, "ucomrade");
assert.equal(BigInt(balance.amount) - BigInt(after.amount), 1234n + 50000n);
const tx = await client.getTx(res.transactionHash);
assert.ok(tx, "getTx finds the tx");
assert.equal(tx.code, 0);
assert.equal(tx.height, res.height);
// searchTx finds it by the SDK's indexed events.
const bySender = await client.searchTx([{ key: "message.sender", value: address }]);
assert.ok(bySender.some((t) => t.hash === res.transactionHash), "searchTx by message.sender");
const byRecipient = await client.searchTx([{ key: "transfer.recipient", value: fresh }]);
assert.deepEqual(byRecipient.map((t) => t.hash), [res.transactionHash]);
const again = await client.getAccount(address);
assert.equal(again.sequence, account.sequence + 1);
assert.ok(again.pubkey, "the account's key is registered after its first tx");

console.log(`cosmjs ok: ${address} sent 1234ucomrade to ${fresh} at height ${res.height}`);
