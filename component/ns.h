/* Every XML namespace Herald speaks, in one place. */
#ifndef HERALD_NS_H
#define HERALD_NS_H

#define NS_COMPONENT_ACCEPT "jabber:component:accept"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_VERSION "jabber:iq:version"
#define NS_PING "urn:xmpp:ping"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_DATA_FORMS "jabber:x:data"
#define NS_DELAY "urn:xmpp:delay"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_ATOM "http://www.w3.org/2005/Atom"

#define NS_DELEGATION_1 "urn:xmpp:delegation:1"
#define NS_DELEGATION_2 "urn:xmpp:delegation:2"
#define NS_PRIVILEGE_1 "urn:xmpp:privilege:1"
#define NS_PRIVILEGE_2 "urn:xmpp:privilege:2"

#endif
